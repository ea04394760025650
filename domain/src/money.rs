//! Money, volume and rates: decimals with fixed scales, parsed from the
//! strings clients send, never floats.

use rust_decimal::{Decimal, RoundingStrategy};

pub mod display;
mod quantity;
pub use quantity::{Money, Rate, Volume};

/// Decimal places of a money amount (the currency's minor unit; 2 for BDT).
pub const MONEY_SCALE: u32 = 2;
/// Decimal places of PV/BV volume.
pub const VOLUME_SCALE: u32 = 2;
/// Most decimal places a rate may have (`0.0125` = 1.25%).
pub const RATE_SCALE: u32 = 4;

/// Rounds a computed payout toward zero to the minor unit: the company never
/// pays more than the plan says. Returns the amount and the residue kept.
pub fn payout(unrounded: Decimal) -> (Decimal, Decimal) {
    let mut amount = unrounded.round_dp_with_strategy(MONEY_SCALE, RoundingStrategy::ToZero);
    amount.rescale(MONEY_SCALE);
    (amount, unrounded - amount)
}

/// A stored amount at the minor unit: Postgres hands a zero back without
/// its decimal places, and the API always shows them.
pub fn in_minor_units(mut d: Decimal) -> Decimal {
    d.rescale(MONEY_SCALE);
    d
}

/// Why a decimal string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecimalError {
    /// Not a plain decimal number.
    #[error("must be a decimal number written as a string, e.g. \"12.50\"")]
    NotDecimal,
    /// More fractional digits than allowed.
    #[error("must have at most {0} decimal places")]
    TooPrecise(u32),
    /// Below zero where only non-negative values make sense.
    #[error("must not be negative")]
    Negative,
    /// Outside [0, 1].
    #[error("must be between 0 and 1 (a fraction: \"0.10\" is 10%)")]
    NotFraction,
    /// Above [`MAX_AMOUNT`].
    #[error("must be at most 1000000000000 (one trillion)")]
    TooLarge,
}

/// The largest amount or volume anyone may send us (one trillion in major
/// units): columns hold up to 10^18, so sums of many such amounts (a
/// hundred lines of ten thousand units at the largest price) still fit.
pub const MAX_AMOUNT: Decimal = Decimal::from_parts(3_567_587_328, 232, 0, false, 0);

/// The largest order total we write, below the 10^18 the columns hold.
pub const MAX_ORDER_TOTAL: Decimal = Decimal::from_parts(2_764_472_320, 232_830, 0, false, 0);

/// Parses a non-negative decimal with at most `scale` places and returns it
/// at exactly that scale (so "5" becomes "5.00").
pub fn parse_amount(s: &str, scale: u32) -> Result<Decimal, DecimalError> {
    let trimmed = s.trim();
    let valid_chars = !trimmed.is_empty() && trimmed.chars().all(|c| c.is_ascii_digit() || c == '.' || c == '-');
    if !valid_chars {
        return Err(DecimalError::NotDecimal);
    }
    let mut d: Decimal = trimmed.parse().map_err(|_| DecimalError::NotDecimal)?;
    if d.scale() > scale {
        return Err(DecimalError::TooPrecise(scale));
    }
    if d.is_sign_negative() && !d.is_zero() {
        return Err(DecimalError::Negative);
    }
    if d > MAX_AMOUNT {
        return Err(DecimalError::TooLarge);
    }
    d.rescale(scale);
    Ok(d)
}

/// Parses a rate: a fraction in [0, 1] with at most [`RATE_SCALE`] places.
pub fn parse_rate(s: &str) -> Result<Decimal, DecimalError> {
    let d = parse_amount(s, RATE_SCALE)?;
    if d > Decimal::ONE {
        return Err(DecimalError::NotFraction);
    }
    Ok(d.normalize())
}

/// Formats an amount for the API: a string with exactly `scale` places.
pub fn format(d: Decimal, scale: u32) -> String {
    let mut d = d;
    d.rescale(scale);
    d.to_string()
}

/// What a money amount, a volume or a rate looks like on the wire: a decimal
/// written as a string. Only the OpenAPI document uses it, so every such
/// field carries the same pattern.
pub struct DecimalText;

/// The pattern of [`DecimalText`]: an optional minus, digits, and at most
/// one fractional part.
pub const DECIMAL_PATTERN: &str = r"^-?[0-9]+(\.[0-9]+)?$";

impl utoipa::PartialSchema for DecimalText {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .pattern(Some(DECIMAL_PATTERN))
            .examples(["1250.50"])
            .into()
    }
}

impl utoipa::ToSchema for DecimalText {}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rust_decimal_macros::dec;

    #[test]
    fn payouts_round_toward_zero_to_two_places() {
        assert_eq!(payout(dec!(12.349)), (dec!(12.34), dec!(0.009)));
        assert_eq!(payout(dec!(0.019999)).0, dec!(0.01));
        assert_eq!(payout(dec!(60.0000)).0.to_string(), "60.00");
        assert_eq!(payout(dec!(-1.239)).0, dec!(-1.23));
    }

    #[test]
    fn amounts_are_parsed_at_their_scale() {
        assert_eq!(parse_amount("5", 2).map(|d| d.to_string()), Ok("5.00".to_owned()));
        assert_eq!(parse_amount("1250.5", 2).map(|d| d.to_string()), Ok("1250.50".to_owned()));
        assert_eq!(parse_amount("1.234", 2), Err(DecimalError::TooPrecise(2)));
        assert_eq!(parse_amount("-1", 2), Err(DecimalError::Negative));
        assert_eq!(parse_amount("1e3", 2), Err(DecimalError::NotDecimal));
        assert_eq!(parse_amount("", 2), Err(DecimalError::NotDecimal));
    }

    #[test]
    fn the_bounds_are_one_trillion_per_amount_and_a_quadrillion_per_order() {
        assert_eq!(MAX_AMOUNT, dec!(1_000_000_000_000));
        assert_eq!(MAX_ORDER_TOTAL, dec!(1_000_000_000_000_000));
        assert_eq!(parse_amount("1000000000000.00", 2), Ok(dec!(1000000000000.00)));
        for big in ["1000000000000.01", "1000000000000000000", "10000000000000000000", "79228162514264337593543950335"]
        {
            assert_eq!(parse_amount(big, 2), Err(DecimalError::TooLarge), "{big}");
        }
        assert_eq!(
            parse_amount("792281625142643375935439503350", 2),
            Err(DecimalError::NotDecimal),
            "beyond a decimal"
        );
    }

    #[test]
    fn rates_are_fractions_with_at_most_four_places() {
        assert_eq!(parse_rate("0.0125"), Ok(dec!(0.0125)));
        assert_eq!(parse_rate("1.5"), Err(DecimalError::NotFraction));
        assert_eq!(parse_rate("0.00001"), Err(DecimalError::TooPrecise(4)));
    }

    proptest! {
        #[test]
        fn a_payout_never_exceeds_what_the_plan_says(cents in 0i64..10_000_000_000, rate_bp in 0i64..=10_000) {
            let basis = Decimal::new(cents, 2);
            let rate = Decimal::new(rate_bp, 4);
            let exact = basis * rate;
            let (amount, residue) = payout(exact);
            prop_assert!(amount <= exact);
            prop_assert!(residue >= Decimal::ZERO && residue < dec!(0.01));
            prop_assert_eq!(amount + residue, exact);
            prop_assert_eq!(amount.scale(), 2);
        }
    }
}
