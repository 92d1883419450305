//! Exact decimal numbers for rule expressions and labels.

use std::cmp::Ordering;
use std::fmt;

/// A non-negative decimal `coefficient / 10^scale` without trailing zeros, so numbers print the
/// way they are written and derived ratios are exact (f64 arithmetic would print 0.0005 as
/// 0.0004999999999999449).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Decimal {
    coefficient: u128,
    scale: u32,
}

impl Decimal {
    /// `coefficient / 10^scale`, trailing zeros dropped.
    pub(crate) const fn new(mut coefficient: u128, mut scale: u32) -> Self {
        while scale > 0 && coefficient.is_multiple_of(10) {
            coefficient /= 10;
            scale -= 1;
        }
        if coefficient == 0 {
            scale = 0;
        }
        Self { coefficient, scale }
    }

    /// The shortest decimal that reads back as this `f64` (`80.0` → `80`, `99.95` → `99.95`).
    pub fn from_f64(value: f64) -> Option<Self> {
        if !value.is_finite() || value < 0.0 {
            return None;
        }
        // Rust prints floats in their shortest round-trip form, never in exponent notation.
        Self::parse(&value.to_string())
    }

    /// Parses `digits[.digits]`.
    pub fn parse(text: &str) -> Option<Self> {
        let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
        if whole.is_empty() || !whole.bytes().chain(fraction.bytes()).all(|byte| byte.is_ascii_digit()) {
            return None;
        }
        let digits = format!("{whole}{fraction}");
        let digits = digits.trim_start_matches('0');
        let coefficient = if digits.is_empty() { 0 } else { digits.parse::<u128>().ok()? };
        Some(Self::new(coefficient, u32::try_from(fraction.len()).ok()?))
    }

    /// Milliseconds as seconds.
    pub fn from_millis(millis: u64) -> Self {
        Self::new(u128::from(millis), 3)
    }

    /// This number divided by `10^places` (percent → ratio is `shift(2)`).
    pub fn shift(self, places: u32) -> Self {
        Self::new(self.coefficient, self.scale.saturating_add(places))
    }

    pub fn is_zero(self) -> bool {
        self.coefficient == 0
    }

    /// Both coefficients at the larger scale, if they fit.
    fn aligned(self, other: Self) -> Option<(u128, u128, u32)> {
        let scale = self.scale.max(other.scale);
        let left = self.coefficient.checked_mul(10u128.checked_pow(scale - self.scale)?)?;
        let right = other.coefficient.checked_mul(10u128.checked_pow(scale - other.scale)?)?;
        Some((left, right, scale))
    }

    /// `self - other`, or `None` below zero or on overflow.
    pub fn checked_sub(self, other: Self) -> Option<Self> {
        let (left, right, scale) = self.aligned(other)?;
        Some(Self::new(left.checked_sub(right)?, scale))
    }

    /// The order of two numbers, or `None` when they are too far apart to align.
    pub fn checked_cmp(self, other: Self) -> Option<Ordering> {
        let (left, right, _) = self.aligned(other)?;
        Some(left.cmp(&right))
    }

    /// The number as Prometheus 3 writes `le` and `quantile` label values: Go's shortest `%g`,
    /// with `.0` added to whole numbers (`3` → `3.0`, `0.1` → `0.1`, `1000000` → `1e+06`).
    pub(crate) fn openmetrics(self) -> String {
        if self.is_zero() {
            return "0.0".to_owned();
        }
        let digits = self.coefficient.to_string();
        let exponent = i64::try_from(digits.len()).unwrap_or(i64::MAX) - i64::from(self.scale) - 1;
        if !(-4..6).contains(&exponent) {
            let (first, rest) = digits.trim_end_matches('0').split_at(1);
            let mantissa = if rest.is_empty() { first.to_owned() } else { format!("{first}.{rest}") };
            let sign = if exponent < 0 { '-' } else { '+' };
            return format!("{mantissa}e{sign}{:02}", exponent.unsigned_abs());
        }
        let plain = self.to_string();
        if plain.contains('.') { plain } else { format!("{plain}.0") }
    }
}

impl fmt::Display for Decimal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let digits = self.coefficient.to_string();
        let scale = usize::try_from(self.scale).map_err(|_| fmt::Error)?;
        if scale == 0 {
            f.write_str(&digits)
        } else if digits.len() > scale {
            let (whole, fraction) = digits.split_at(digits.len() - scale);
            write!(f, "{whole}.{fraction}")
        } else {
            write!(f, "0.{}{digits}", "0".repeat(scale - digits.len()))
        }
    }
}
