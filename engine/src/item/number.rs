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
