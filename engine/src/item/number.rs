//! DynamoDB numbers: exact decimals of up to 38 significant digits, never rounded through
//! a float.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

/// The most significant digits a number may have.
pub const DIGITS_MAX: u32 = 38;
/// The power of ten of the largest leading digit allowed (`9.99…E+125`).
pub const MAGNITUDE_MAX: i32 = 125;
/// The power of ten of the smallest leading digit allowed (`1E-130`).
pub const MAGNITUDE_MIN: i32 = -130;
/// The most bytes a number counts for in an item's size.
const SIZE_BYTES_MAX: usize = 21;

/// An exact decimal number as DynamoDB stores it: `mantissa × 10^exponent`, normalised so
/// that equal values are equal (`1`, `1.0`, `10e-1` and `0.1E1` are one value), with at
/// most 38 significant digits and a magnitude from `1E-130` to below `1E+126`.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Number {
    negative: bool,
    /// No trailing decimal zeros; 0 only for zero. Fewer than 39 digits, so `u128` holds it.
    mantissa: u128,
    exponent: i32,
}

/// Why a string is not a DynamoDB number. Messages are DynamoDB's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NumberError {
    /// The text is not a decimal number (empty, garbage, `NaN`, `Infinity`, hex...).
    #[error("The parameter cannot be converted to a numeric value{}", if .0.is_empty() { String::new() } else { format!(": {}", .0) })]
    NotANumber(String),
    /// More than 38 significant digits.
    #[error("Attempting to store more than 38 significant digits in a Number")]
    TooManyDigits,
    /// Magnitude of `1E+126` or more.
    #[error("Number overflow. Attempting to store a number with magnitude larger than supported range")]
    Overflow,
    /// Magnitude below `1E-130` (but not zero).
    #[error("Number underflow. Attempting to store a number with magnitude smaller than supported range")]
    Underflow,
}

fn decimal_digits(mut n: u128) -> u32 {
    let mut digits = 0;
    while n > 0 {
        digits += 1;
        n /= 10;
    }
    digits
}

impl Number {
    /// Zero.
    pub const ZERO: Number = Number {
        negative: false,
        mantissa: 0,
        exponent: 0,
    };

    /// Builds `±digits × 10^exponent`, normalising and checking the limits.
    ///
    /// Errors: [`NumberError::TooManyDigits`], [`NumberError::Overflow`],
    /// [`NumberError::Underflow`].
    pub fn from_parts(negative: bool, mut mantissa: u128, exponent: i64) -> Result<Number, NumberError> {
        if mantissa == 0 {
            return Ok(Number::ZERO);
        }
        let mut exponent = exponent;
        while mantissa.is_multiple_of(10) {
            mantissa /= 10;
            exponent = exponent.saturating_add(1);
        }
        let digits = decimal_digits(mantissa);
        if digits > DIGITS_MAX {
            return Err(NumberError::TooManyDigits);
        }
        let magnitude = exponent.saturating_add(i64::from(digits) - 1);
        if magnitude > i64::from(MAGNITUDE_MAX) {
            return Err(NumberError::Overflow);
        }
        if magnitude < i64::from(MAGNITUDE_MIN) {
            return Err(NumberError::Underflow);
        }
        Ok(Number {
            negative,
            mantissa,
            exponent: exponent as i32,
        })
    }

    /// The number as `(negative, mantissa, exponent)`: `±mantissa × 10^exponent`, with no
    /// trailing zeros in the mantissa; [`Number::from_parts`] rebuilds it.
    pub fn to_parts(&self) -> (bool, u128, i32) {
        (self.negative, self.mantissa, self.exponent)
    }

    /// `self + other`, exactly.
    ///
    /// Errors: [`NumberError::TooManyDigits`] if the exact sum needs more than 38
    /// significant digits, [`NumberError::Overflow`] / [`NumberError::Underflow`].
    pub fn checked_add(&self, other: &Number) -> Result<Number, NumberError> {
        if other.is_zero() {
            return Ok(*self);
        }
        if self.is_zero() {
            return Ok(*other);
        }
        // Align both on the smaller exponent; a shift that does not fit in u128 means the
        // exact result has more than 38 significant digits.
        let exponent = self.exponent.min(other.exponent);
        let align = |n: &Number| {
            10u128
                .checked_pow((n.exponent - exponent) as u32)
                .and_then(|scale| n.mantissa.checked_mul(scale))
                .ok_or(NumberError::TooManyDigits)
        };
        let (a, b) = (align(self)?, align(other)?);
        let (negative, mantissa) = if self.negative == other.negative {
            (self.negative, a.checked_add(b).ok_or(NumberError::TooManyDigits)?)
        } else if a >= b {
            (self.negative, a - b)
        } else {
            (other.negative, b - a)
        };
        Number::from_parts(negative && mantissa != 0, mantissa, i64::from(exponent))
    }

    /// `-self`.
    pub fn negated(&self) -> Number {
        Number {
            negative: !self.negative && !self.is_zero(),
            ..*self
        }
    }

    /// Whether this is zero.
    pub fn is_zero(&self) -> bool {
        self.mantissa == 0
    }

    /// Whether this is below zero.
    pub fn is_negative(&self) -> bool {
        self.negative
    }

    /// How many significant digits (0 for zero).
    pub fn significant_digits(&self) -> u32 {
        decimal_digits(self.mantissa)
    }

    /// The power of ten of the leading digit (`123.4` → 2, `0.05` → -2); 0 for zero.
    pub fn magnitude(&self) -> i32 {
        if self.is_zero() {
            0
        } else {
            self.exponent + self.significant_digits() as i32 - 1
        }
    }

    /// The significant digits, most significant first, each 0 to 9 (empty for zero).
    pub fn digits(&self) -> Vec<u8> {
        if self.is_zero() {
            return Vec::new();
        }
        self.mantissa.to_string().bytes().map(|b| b - b'0').collect()
    }

    /// Bytes this number counts for in an item's size, by DynamoDB's rule: one byte per
    /// pair of digits (pairs aligned on the decimal point, as DynamoDB stores numbers in
    /// base 100), plus one, plus one more if negative, at most 21; zero is 1 byte.
    pub fn size_bytes(&self) -> usize {
        if self.is_zero() {
            return 1;
        }
        let highest = self.magnitude();
        let lowest = self.exponent;
        let pairs = (highest.div_euclid(2) - lowest.div_euclid(2) + 1) as usize;
        (pairs + 1 + usize::from(self.negative)).min(SIZE_BYTES_MAX)
    }

    /// The mantissa scaled to exactly 38 digits, for comparing equal-magnitude numbers.
    fn scaled_mantissa(&self) -> u128 {
        self.mantissa * 10u128.pow(DIGITS_MAX - self.significant_digits())
    }

    fn cmp_magnitude(&self, other: &Number) -> Ordering {
        match (self.is_zero(), other.is_zero()) {
            (true, true) => Ordering::Equal,
            (true, false) => Ordering::Less,
            (false, true) => Ordering::Greater,
            (false, false) => self
                .magnitude()
                .cmp(&other.magnitude())
                .then_with(|| self.scaled_mantissa().cmp(&other.scaled_mantissa())),
        }
    }
}

impl Ord for Number {
    fn cmp(&self, other: &Number) -> Ordering {
        match (self.negative, other.negative) {
            (false, true) => Ordering::Greater,
            (true, false) => Ordering::Less,
            (false, false) => self.cmp_magnitude(other),
            (true, true) => other.cmp_magnitude(self),
        }
    }
}

impl PartialOrd for Number {
    fn partial_cmp(&self, other: &Number) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Consumes an optional `+` or `-` at `pos`; returns whether it was `-`.
fn take_sign(bytes: &[u8], pos: &mut usize) -> bool {
    match bytes.get(*pos) {
        Some(b'-') => {
            *pos += 1;
            true
        }
        Some(b'+') => {
            *pos += 1;
            false
        }
        _ => false,
    }
}

impl FromStr for Number {
    type Err = NumberError;

    /// Parses DynamoDB's (and Java `BigDecimal`'s) decimal syntax: an optional sign,
    /// digits with an optional decimal point (at least one digit), and an optional
    /// exponent `e`/`E` with an optional sign and at least one digit. No spaces.
    fn from_str(text: &str) -> Result<Number, NumberError> {
        let not_a_number = || NumberError::NotANumber(text.to_owned());
        let bytes = text.as_bytes();
        let mut pos = 0;
        let negative = take_sign(bytes, &mut pos);
        let mut digits: Vec<u8> = Vec::new();
        let mut fraction_digits: i64 = 0;
        let mut seen_point = false;
        let mut seen_digit = false;
        while let Some(&b) = bytes.get(pos) {
            match b {
                b'0'..=b'9' => {
                    seen_digit = true;
                    if seen_point {
                        fraction_digits += 1;
                    }
                    // Leading zeros carry no value; skip them so long inputs stay cheap.
                    if !(digits.is_empty() && b == b'0') {
                        digits.push(b - b'0');
                    }
                }
                b'.' if !seen_point => seen_point = true,
                _ => break,
            }
            pos += 1;
        }
        if !seen_digit {
            return Err(not_a_number());
        }
        let mut exponent: i64 = 0;
        if let Some(b'e' | b'E') = bytes.get(pos) {
            pos += 1;
            let exponent_negative = take_sign(bytes, &mut pos);
            let start = pos;
            while let Some(b @ b'0'..=b'9') = bytes.get(pos) {
                exponent = exponent.saturating_mul(10).saturating_add(i64::from(b - b'0'));
                pos += 1;
            }
            if pos == start {
                return Err(not_a_number());
            }
            if exponent_negative {
                exponent = -exponent;
            }
        }
        if pos != bytes.len() {
            return Err(not_a_number());
        }
        // Trailing zeros are not significant: fold them into the exponent.
        let mut exponent = exponent.saturating_sub(fraction_digits);
        while digits.last() == Some(&0) {
            digits.pop();
            exponent = exponent.saturating_add(1);
        }
        if digits.len() > DIGITS_MAX as usize {
            return Err(NumberError::TooManyDigits);
        }
        let mantissa = digits.iter().fold(0u128, |m, d| m * 10 + u128::from(*d));
        Number::from_parts(negative, mantissa, exponent)
    }
}

impl fmt::Display for Number {
    /// DynamoDB's output form: plain notation, no exponent, no leading or trailing zeros
    /// (`1E+3` → `1000`, `0.50` → `0.5`, `-0` → `0`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_zero() {
            return f.write_str("0");
        }
        let digits = self.mantissa.to_string();
        let sign = if self.negative { "-" } else { "" };
        if self.exponent >= 0 {
            write!(f, "{sign}{digits}{}", "0".repeat(self.exponent as usize))
        } else {
            let fraction = self.exponent.unsigned_abs() as usize;
            if fraction < digits.len() {
                let (whole, part) = digits.split_at(digits.len() - fraction);
                write!(f, "{sign}{whole}.{part}")
            } else {
                write!(f, "{sign}0.{}{digits}", "0".repeat(fraction - digits.len()))
            }
        }
    }
}

impl fmt::Debug for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Number({self})")
    }
}

impl From<i64> for Number {
    fn from(value: i64) -> Number {
        // An i64 has at most 19 digits: always within the limits.
        Number::from_parts(value < 0, u128::from(value.unsigned_abs()), 0).unwrap_or(Number::ZERO)
    }
}

impl From<i32> for Number {
    fn from(value: i32) -> Number {
        Number::from(i64::from(value))
    }
}

impl From<u32> for Number {
    fn from(value: u32) -> Number {
        Number::from(u64::from(value))
    }
}

impl From<u64> for Number {
    fn from(value: u64) -> Number {
        // A u64 has at most 20 digits: always within the limits.
        Number::from_parts(false, u128::from(value), 0).unwrap_or(Number::ZERO)
    }
}

/// Why a [`Number`] could not be converted to or from a Rust number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NumberConversionError {
    /// The number has a fraction, and the target is an integer.
    #[error("{number} is not an integer")]
    NotAnInteger {
        /// The number, as DynamoDB prints it.
        number: String,
    },
    /// The number is outside the target type's range.
    #[error("{number} is outside the range of {target}")]
    OutOfRange {
        /// The number, as DynamoDB prints it.
        number: String,
        /// The target type.
        target: &'static str,
    },
    /// The number has no `f64` that reads back as the same number (it has more
    /// significant digits than an `f64` keeps).
    #[error("{number} has no exact f64")]
    NotExactInF64 {
        /// The number, as DynamoDB prints it.
        number: String,
    },
    /// The `f64` is no DynamoDB number: NaN, an infinity, or out of DynamoDB's range.
    #[error("{0}")]
    NotANumber(NumberError),
}

/// An `f64` as the shortest decimal that reads back as the same `f64` (`0.1` is `0.1`,
/// not the binary fraction's 55 digits): exact in the sense that converting back gives
/// the same `f64`.
///
/// Errors: [`NumberConversionError::NotANumber`] for NaN and infinities, and for
/// magnitudes from `1E+126` up or below `1E-130` (DynamoDB's range).
impl TryFrom<f64> for Number {
    type Error = NumberConversionError;

    fn try_from(value: f64) -> Result<Number, NumberConversionError> {
        if !value.is_finite() {
            return Err(NumberConversionError::NotANumber(NumberError::NotANumber(
                value.to_string(),
            )));
        }
        // `{:e}` writes the shortest digits that round-trip, in scientific notation.
        format!("{value:e}").parse().map_err(NumberConversionError::NotANumber)
    }
}

/// The number as an `i64`, exactly.
///
/// Errors: [`NumberConversionError::NotAnInteger`], [`NumberConversionError::OutOfRange`].
impl TryFrom<Number> for i64 {
    type Error = NumberConversionError;

    fn try_from(number: Number) -> Result<i64, NumberConversionError> {
        let value = number.integer_i128("i64")?;
        i64::try_from(value).map_err(|_| number.out_of_range("i64"))
    }
}

/// The number as a `u64`, exactly.
///
/// Errors: [`NumberConversionError::NotAnInteger`], [`NumberConversionError::OutOfRange`]
/// (negative numbers too).
impl TryFrom<Number> for u64 {
    type Error = NumberConversionError;

    fn try_from(number: Number) -> Result<u64, NumberConversionError> {
        let value = number.integer_i128("u64")?;
        u64::try_from(value).map_err(|_| number.out_of_range("u64"))
    }
}

/// The `f64` nearest the number, if it reads back as the same number (see
/// `TryFrom<f64> for Number`): every number of up to 15 significant digits does, and most
/// of 16 and 17.
///
/// Errors: [`NumberConversionError::NotExactInF64`].
impl TryFrom<Number> for f64 {
    type Error = NumberConversionError;

    fn try_from(number: Number) -> Result<f64, NumberConversionError> {
        let not_exact = || NumberConversionError::NotExactInF64 {
            number: number.to_string(),
        };
        // Rust's parsing rounds to the nearest f64, correctly.
        let nearest: f64 = number.to_string().parse().map_err(|_| not_exact())?;
        match Number::try_from(nearest) {
            Ok(back) if back == number => Ok(nearest),
            _ => Err(not_exact()),
        }
    }
}

impl Number {
    /// The number as an `i128` if it is an integer that fits one (`target` names the type
    /// asked for, in the error).
    fn integer_i128(&self, target: &'static str) -> Result<i128, NumberConversionError> {
        if self.exponent < 0 {
            return Err(NumberConversionError::NotAnInteger {
                number: self.to_string(),
            });
        }
        let scaled = u32::try_from(self.exponent)
            .ok()
            .and_then(|exponent| 10u128.checked_pow(exponent))
            .and_then(|scale| self.mantissa.checked_mul(scale))
            .and_then(|magnitude| i128::try_from(magnitude).ok())
            .ok_or_else(|| self.out_of_range(target))?;
        Ok(if self.negative { -scaled } else { scaled })
    }

    fn out_of_range(&self, target: &'static str) -> NumberConversionError {
        NumberConversionError::OutOfRange {
            number: self.to_string(),
            target,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(text: &str) -> Number {
        text.parse().unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    #[test]
    fn equal_values_written_differently_are_one_number() {
        for text in ["1", "1.0", "10e-1", "0.1E1", "1.000", "+1", "001", "0.000001e6", "1e0"] {
            assert_eq!(n(text), n("1"), "{text}");
            assert_eq!(n(text).to_string(), "1");
        }
        assert_eq!(n("-0"), Number::ZERO);
        assert_eq!(n("0.000e99999999999"), Number::ZERO);
    }

    #[test]
    fn output_is_plain_and_trimmed() {
        for (input, output) in [
            ("1E+3", "1000"),
            ("0.50", "0.5"),
            ("-12.340", "-12.34"),
            ("5e-3", "0.005"),
            (".5", "0.5"),
            ("5.", "5"),
            ("-1e-130", &format!("-0.{}1", "0".repeat(129))),
            ("1.5e2", "150"),
            (
                "123456789012345678901234567890.12345678",
                "123456789012345678901234567890.12345678",
            ),
        ] {
            assert_eq!(n(input).to_string(), output, "{input}");
        }
    }

    #[test]
    fn garbage_is_not_a_number() {
        for text in [
            "", "abc", "1.2.3", "1e", "e5", "--1", "1 ", " 1", "NaN", "Infinity", "0x10", "1e+", ".", "-", "1_000",
        ] {
            let error = text.parse::<Number>().unwrap_err();
            assert_eq!(error, NumberError::NotANumber(text.to_owned()), "{text}");
        }
        assert_eq!(
            "b".parse::<Number>().unwrap_err().to_string(),
            "The parameter cannot be converted to a numeric value: b"
        );
        assert_eq!(
            "".parse::<Number>().unwrap_err().to_string(),
            "The parameter cannot be converted to a numeric value"
        );
    }

    #[test]
    fn limits_are_dynamodbs() {
        assert_eq!("1".repeat(38).parse::<Number>().map(|n| n.significant_digits()), Ok(38));
        assert_eq!("1".repeat(39).parse::<Number>(), Err(NumberError::TooManyDigits));
        assert_eq!(
            "-1.23456789012345678901234567890123456789".parse::<Number>(),
            Err(NumberError::TooManyDigits)
        );
        // Trailing zeros are not significant.
        assert!(format!("1{}", "0".repeat(60)).parse::<Number>().is_ok());
        assert!(n(&format!("9.{}E+125", "9".repeat(37))) > Number::ZERO);
        assert_eq!("1e126".parse::<Number>(), Err(NumberError::Overflow));
        assert_eq!("-1e126".parse::<Number>(), Err(NumberError::Overflow));
        assert!("1e-130".parse::<Number>().is_ok());
        assert_eq!("1e-131".parse::<Number>(), Err(NumberError::Underflow));
        assert_eq!("0.9e-130".parse::<Number>(), Err(NumberError::Underflow));
        assert_eq!("1e99999999999999999999".parse::<Number>(), Err(NumberError::Overflow));
        assert_eq!("1e-99999999999999999999".parse::<Number>(), Err(NumberError::Underflow));
    }

    #[test]
    fn order_is_numeric() {
        let ascending = [
            "-1e100", "-10", "-2.5", "-0.001", "0", "1e-130", "0.001", "1", "7", "7.5", "10", "1e100",
        ];
        for pair in ascending.windows(2) {
            assert!(n(pair[0]) < n(pair[1]), "{} < {}", pair[0], pair[1]);
        }
    }

    #[test]
    fn addition_is_exact_and_refuses_what_does_not_fit() {
        let add = |a: &str, b: &str| n(a).checked_add(&n(b)).map(|n| n.to_string());
        assert_eq!(add("0.1", "0.2"), Ok("0.3".to_owned()));
        assert_eq!(add("10", "-10"), Ok("0".to_owned()));
        assert_eq!(add("-2.5", "1"), Ok("-1.5".to_owned()));
        assert_eq!(
            add("1e20", "1e-10"),
            Ok(format!("1{}.{}1", "0".repeat(20), "0".repeat(9)))
        );
        assert_eq!(
            add(&"9".repeat(38), "1"),
            Ok(format!("1{}", "0".repeat(38))),
            "one significant digit"
        );
        assert_eq!(
            add(&"9".repeat(38), "0.1"),
            Err(NumberError::TooManyDigits),
            "39 digits would need rounding"
        );
        assert_eq!(add(&format!("1{}", "0".repeat(38)), "-1"), Ok("9".repeat(38)));
        assert_eq!(add("1e100", "1"), Err(NumberError::TooManyDigits));
        assert_eq!(add("9e125", "1e125"), Err(NumberError::Overflow));
        assert_eq!(n("5").negated().to_string(), "-5");
        assert_eq!(Number::ZERO.negated(), Number::ZERO);
    }

    #[test]
    fn size_counts_digit_pairs_aligned_on_the_point() {
        for (text, size) in [
            ("0", 1),
            ("1", 2),
            ("10", 2),
            ("100", 2),
            ("123", 3),
            ("1234", 3),
            ("12345", 4),
            ("1.5", 3),
            ("12.5", 3),
            ("0.5", 2),
            ("0.05", 2),
            ("0.005", 2),
            ("-1", 3),
            ("-1e-130", 3),
            (&"9".repeat(38), 20),
            (&format!("-{}", "9".repeat(38)), 21),
            (&format!("-0.{}", "9".repeat(38)), 21),
        ] {
            assert_eq!(n(text).size_bytes(), size, "{text}");
        }
    }
}

#[cfg(test)]
mod conversion_tests {
    use super::*;
    use proptest::prelude::*;

    fn n(text: &str) -> Number {
        text.parse().unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    proptest! {
        #[test]
        fn every_i64_and_u64_round_trips(signed in any::<i64>(), unsigned in any::<u64>()) {
            prop_assert_eq!(i64::try_from(Number::from(signed)), Ok(signed));
            prop_assert_eq!(u64::try_from(Number::from(unsigned)), Ok(unsigned));
            prop_assert_eq!(Number::from(signed).to_string(), signed.to_string());
            prop_assert_eq!(Number::from(signed as i32), Number::from(i64::from(signed as i32)));
            prop_assert_eq!(Number::from(unsigned as u32), Number::from(u64::from(unsigned as u32)));
        }

        /// Every finite f64 in DynamoDB's range converts to the shortest decimal that
        /// reads back as it, and back to itself.
        #[test]
        fn every_f64_in_range_round_trips(value in any::<f64>()) {
            let magnitude = value.abs();
            let in_range = value == 0.0 || (1e-130..1e126).contains(&magnitude);
            prop_assume!(value.is_finite() && in_range);
            let number = Number::try_from(value).map_err(|e| TestCaseError::fail(e.to_string()))?;
            let back = f64::try_from(number).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(back, value, "via {}", number);
        }
    }

    #[test]
    fn floats_become_their_shortest_decimal() {
        assert_eq!(Number::try_from(0.1), Ok(n("0.1")));
        assert_eq!(Number::try_from(-2.5e-7), Ok(n("-0.00000025")));
        assert_eq!(Number::try_from(1e100), Ok(n("1e100")));
        assert_eq!(Number::try_from(-0.0), Ok(Number::ZERO));
        assert_eq!(f64::try_from(n("0.1")), Ok(0.1));
        assert_eq!(f64::try_from(n("123456789012345")), Ok(123_456_789_012_345.0));
    }

    #[test]
    fn conversions_that_cannot_be_exact_are_refused() {
        let not_a_number = |value: f64| matches!(Number::try_from(value), Err(NumberConversionError::NotANumber(_)));
        assert!(not_a_number(f64::NAN) && not_a_number(f64::INFINITY) && not_a_number(f64::NEG_INFINITY));
        assert_eq!(
            Number::try_from(1e200),
            Err(NumberConversionError::NotANumber(NumberError::Overflow))
        );
        assert_eq!(
            Number::try_from(1e-200),
            Err(NumberConversionError::NotANumber(NumberError::Underflow))
        );
        assert!(matches!(
            f64::try_from(n("0.1234567890123456789")),
            Err(NumberConversionError::NotExactInF64 { .. })
        ));
        assert!(matches!(
            i64::try_from(n("1.5")),
            Err(NumberConversionError::NotAnInteger { .. })
        ));
        assert_eq!(
            i64::try_from(n("1e19")),
            Err(NumberConversionError::OutOfRange {
                number: "10000000000000000000".into(),
                target: "i64"
            })
        );
        assert_eq!(u64::try_from(n("1e19")), Ok(10_000_000_000_000_000_000));
        assert!(matches!(
            u64::try_from(n("-1")),
            Err(NumberConversionError::OutOfRange { target: "u64", .. })
        ));
        assert!(matches!(
            i64::try_from(n("1e125")),
            Err(NumberConversionError::OutOfRange { target: "i64", .. })
        ));
        assert_eq!(i64::try_from(n("-9223372036854775808")), Ok(i64::MIN));
    }
}
