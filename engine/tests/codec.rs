//! The binary item encoding round-trips every item and refuses bytes it did not write.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::value;
use dynastore_engine::item::codec::{decode_item, encode_item};
use dynastore_engine::item::{AttributeValue, Item};
use proptest::prelude::*;

fn item() -> impl Strategy<Value = Item> {
    proptest::collection::btree_map(".{0,6}", value(), 0..6).prop_map(Item::from)
}

proptest! {
    #[test]
    fn items_round_trip(item in item()) {
        let mut bytes = Vec::new();
        encode_item(&item, &mut bytes);
        prop_assert_eq!(decode_item(&bytes).unwrap(), item);
    }

    #[test]
    fn truncated_encodings_are_refused(item in item(), cut in any::<prop::sample::Index>()) {
        let mut bytes = Vec::new();
        encode_item(&item, &mut bytes);
        let cut = cut.index(bytes.len());
        prop_assert!(decode_item(&bytes[..cut]).is_err());
    }

    /// Item collection sizes lean on this: a partition's stored bytes, doubled, bound the
    /// DynamoDB size of whatever it holds (see `index::collection`).
    #[test]
    fn an_items_dynamodb_size_is_at_most_twice_its_encoding(item in item()) {
        let mut bytes = Vec::new();
        encode_item(&item, &mut bytes);
        prop_assert!(item.size_bytes() <= 2 * bytes.len(), "{} vs {} encoded", item.size_bytes(), bytes.len());
    }

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        // Whatever comes back, it must come back (no panic, no runaway allocation).
        if let Ok(item) = decode_item(&bytes) {
            let mut again = Vec::new();
            encode_item(&item, &mut again);
            prop_assert_eq!(decode_item(&again).unwrap(), item);
        }
    }
}

#[test]
fn a_deeply_nested_forgery_is_refused_not_overflowed() {
    // An item with one attribute whose value is 100,000 nested lists of one element.
    let mut bytes = vec![1, 1, b'a'];
    for _ in 0..100_000 {
        bytes.extend_from_slice(&[0x07, 1]);
    }
    bytes.push(0x06);
    assert!(decode_item(&bytes).is_err());
}

/// Items are encoded in name order and decoded straight into that order: names out of
/// order or repeated are damage, refused rather than served as a wrong item.
#[test]
fn attribute_names_out_of_order_or_repeated_are_refused() {
    let mut good = Vec::new();
    encode_item(
        &Item::new()
            .with("b", AttributeValue::Null)
            .with("a", AttributeValue::Null),
        &mut good,
    );
    // Two attributes, "a" then "b", each NULL (tag 6).
    assert_eq!(good, [2, 1, b'a', 6, 1, b'b', 6]);
    assert!(decode_item(&good).is_ok());
    assert!(decode_item(&[2, 1, b'b', 6, 1, b'a', 6]).is_err(), "out of order");
    assert!(decode_item(&[2, 1, b'a', 6, 1, b'a', 6]).is_err(), "repeated");
}
