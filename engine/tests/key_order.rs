//! The key encoding sorts exactly as DynamoDB orders key values.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use dynastore_engine::item::key::{encode_key_value, storage_key};
use dynastore_engine::item::{AttributeValue, Number};
use proptest::prelude::*;
use std::cmp::Ordering;

fn encode(value: &AttributeValue) -> Vec<u8> {
    let mut out = Vec::new();
    encode_key_value(value, &mut out);
    out
}

/// A number `mantissa × 10^exponent`, written in one of several equivalent ways.
fn number_text(mantissa: i64, exponent: i32, style: u8) -> String {
    match style % 3 {
        0 => format!("{mantissa}e{exponent}"),
        1 => format!("{mantissa}0E{}", exponent - 1),
        _ => {
            // Plain decimal notation with a point.
            let digits = mantissa.unsigned_abs().to_string();
            let sign = if mantissa < 0 { "-" } else { "" };
            if exponent >= 0 {
                format!("{sign}{digits}{}.000", "0".repeat(exponent as usize))
            } else {
                let shift = exponent.unsigned_abs() as usize;
                let padded = format!("{}{digits}", "0".repeat(shift));
                let (whole, fraction) = padded.split_at(padded.len() - shift);
                format!("{sign}{whole}.{fraction}")
            }
        }
    }
}

/// The reference order: both sides scaled to the smaller exponent, compared as integers.
fn reference_cmp(a: (i64, i32), b: (i64, i32)) -> Ordering {
    let low = a.1.min(b.1);
    let scale = |(m, e): (i64, i32)| i128::from(m) * 10i128.pow((e - low) as u32);
    scale(a).cmp(&scale(b))
}

fn number_parts() -> impl Strategy<Value = (i64, i32, u8)> {
    (
        prop_oneof![Just(0i64), -9i64..=9, -1_000_000_000_000_000i64..=1_000_000_000_000_000,],
        -10i32..=10,
        any::<u8>(),
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn number_encodings_compare_as_the_numbers_do(a in number_parts(), b in number_parts()) {
        let na: Number = number_text(a.0, a.1, a.2).parse().unwrap();
        let nb: Number = number_text(b.0, b.1, b.2).parse().unwrap();
        let expected = reference_cmp((a.0, a.1), (b.0, b.1));
        prop_assert_eq!(na.cmp(&nb), expected, "{} vs {}", na, nb);
        prop_assert_eq!(encode(&AttributeValue::N(na)).cmp(&encode(&AttributeValue::N(nb))), expected);
    }

    #[test]
    fn equal_numbers_written_differently_encode_identically(parts in number_parts()) {
        let texts: Vec<String> = (0..3).map(|style| number_text(parts.0, parts.1, style)).collect();
        let encodings: Vec<Vec<u8>> = texts.iter().map(|t| encode(&AttributeValue::N(t.parse().unwrap()))).collect();
        prop_assert!(encodings.windows(2).all(|w| w[0] == w[1]), "{:?}", texts);
    }

    #[test]
    fn string_and_binary_encodings_compare_as_bytes(
        a in proptest::collection::vec(prop_oneof![Just(0u8), Just(1u8), Just(255u8), any::<u8>()], 0..12),
        b in proptest::collection::vec(prop_oneof![Just(0u8), Just(1u8), Just(255u8), any::<u8>()], 0..12),
    ) {
        let (ea, eb) = (encode(&AttributeValue::B(a.clone())), encode(&AttributeValue::B(b.clone())));
        prop_assert_eq!(ea.cmp(&eb), a.cmp(&b));
        let (sa, sb) = (String::from_utf8_lossy(&a).into_owned(), String::from_utf8_lossy(&b).into_owned());
        prop_assert_eq!(encode(&AttributeValue::S(sa.clone())).cmp(&encode(&AttributeValue::S(sb.clone()))), sa.as_bytes().cmp(sb.as_bytes()));
    }

    /// Prefix-freeness: a composite key sorts by partition key, then by sort key.
    #[test]
    fn composite_keys_sort_by_partition_then_sort_key(
        pa in proptest::collection::vec(0u8..4, 0..4), sa in proptest::collection::vec(0u8..4, 0..4),
        pb in proptest::collection::vec(0u8..4, 0..4), sb in proptest::collection::vec(0u8..4, 0..4),
    ) {
        let compose = |p: &Vec<u8>, s: &Vec<u8>| {
            let mut out = encode(&AttributeValue::B(p.clone()));
            out.extend(encode(&AttributeValue::B(s.clone())));
            out
        };
        prop_assert_eq!(compose(&pa, &sa).cmp(&compose(&pb, &sb)), (&pa, &sa).cmp(&(&pb, &sb)));
    }
}

#[test]
fn extreme_numbers_sort_correctly() {
    let ascending = [
        format!("-9.{}E+125", "9".repeat(37)),
        "-1e125".to_owned(),
        "-10".to_owned(),
        "-2.5".to_owned(),
        "-1e-130".to_owned(),
        "0".to_owned(),
        "1e-130".to_owned(),
        "0.001".to_owned(),
        "1".to_owned(),
        format!("1.{}1", "0".repeat(36)),
        "7".to_owned(),
        "1e100".to_owned(),
        format!("9.{}E+125", "9".repeat(37)),
    ];
    let encoded: Vec<Vec<u8>> = ascending
        .iter()
        .map(|t| encode(&AttributeValue::N(t.parse().unwrap())))
        .collect();
    for (i, pair) in encoded.windows(2).enumerate() {
        assert!(pair[0] < pair[1], "{} < {}", ascending[i], ascending[i + 1]);
    }
}

#[test]
fn strings_sort_by_utf8_bytes_as_dynamodb_does() {
    let ascending = ["", "A", "Z", "a", "a\0", "a\u{1}", "ab", "z", "¿", "😀"];
    for pair in ascending.windows(2) {
        assert!(
            encode(&pair[0].into()) < encode(&pair[1].into()),
            "{:?} < {:?}",
            pair[0],
            pair[1]
        );
    }
}

#[test]
fn storage_keys_group_a_partition_key_and_sort_by_sort_key() {
    let pk = AttributeValue::from("customer#17");
    let keys: Vec<Vec<u8>> = [1i64, 2, 10, 100]
        .iter()
        .map(|n| storage_key(&pk, Some(&AttributeValue::from(*n))))
        .collect();
    assert!(keys.windows(2).all(|w| w[0] < w[1]));
    assert!(
        keys.iter().all(|k| k[..8] == keys[0][..8]),
        "one partition key, one hash"
    );
    assert_ne!(storage_key(&"customer#18".into(), None)[..8], keys[0][..8]);
}
