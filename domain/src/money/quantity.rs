//! Money, volume and rates as types of their own. A commission is BV × a
//! rate, rounded to money: with three bare decimals a basis could be paid
//! as an amount, or a volume compared with a spend, and it would compile.
//! With these, volumes add only to volumes and money only to money, and the
//! one way from a volume to money is a rate and [`Money::toward_zero`].

use std::iter::Sum;
use std::ops::{Add, AddAssign, Mul, Neg, Sub, SubAssign};

use rust_decimal::Decimal;

use super::{DecimalError, MONEY_SCALE, VOLUME_SCALE, parse_amount, parse_rate, payout};

/// Defines a decimal newtype: transparent to serde (a decimal string) and
/// sqlx (`numeric`), a [`super::DecimalText`] in the document.
macro_rules! decimal_newtype {
    ($(#[$doc:meta])* $name:ident, $scale:expr) => {
        $(#[$doc])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default,
            serde::Serialize, serde::Deserialize, sqlx::Type,
        )]
        #[serde(transparent)]
        #[sqlx(transparent)]
        pub struct $name(pub Decimal);

        impl $name {
            /// Nothing, written at the quantity's scale (`0.00`).
            pub const ZERO: Self = Self(Decimal::from_parts(0, 0, 0, false, $scale));

            /// The decimal inside, for SQL and arithmetic that has no type here.
            pub fn get(self) -> Decimal {
                self.0
            }

            /// Whether it is zero.
            pub fn is_zero(self) -> bool {
                self.0.is_zero()
            }
        }

        impl From<Decimal> for $name {
            fn from(d: Decimal) -> Self {
                Self(d)
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }

        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                <super::DecimalText as utoipa::PartialSchema>::schema()
            }
        }

        impl utoipa::ToSchema for $name {
            fn name() -> std::borrow::Cow<'static, str> {
                std::borrow::Cow::Borrowed("DecimalText")
            }
        }
    };
}

/// Defines addition, subtraction, negation and sums within one quantity.
macro_rules! additive {
    ($name:ident) => {
        impl Add for $name {
            type Output = Self;
            fn add(self, rhs: Self) -> Self {
                Self(self.0 + rhs.0)
            }
        }

        impl Sub for $name {
            type Output = Self;
            fn sub(self, rhs: Self) -> Self {
                Self(self.0 - rhs.0)
            }
        }

        impl AddAssign for $name {
            fn add_assign(&mut self, rhs: Self) {
                self.0 += rhs.0;
            }
        }

        impl SubAssign for $name {
            fn sub_assign(&mut self, rhs: Self) {
                self.0 -= rhs.0;
            }
        }

        impl Neg for $name {
            type Output = Self;
            fn neg(self) -> Self {
                Self(-self.0)
            }
        }

        impl Sum for $name {
            fn sum<I: Iterator<Item = Self>>(iter: I) -> Self {
                Self(iter.map(|x| x.0).sum())
            }
        }

        impl<'a> Sum<&'a $name> for $name {
            fn sum<I: Iterator<Item = &'a Self>>(iter: I) -> Self {
                Self(iter.map(|x| x.0).sum())
            }
        }

        /// Volume or money times a rate: an exact product, not yet rounded
        /// (rounding is [`Money::toward_zero`]'s, once).
        impl Mul<Rate> for $name {
            type Output = Decimal;
            fn mul(self, rate: Rate) -> Decimal {
                self.0 * rate.0
            }
        }
    };
}

decimal_newtype!(
    /// An amount of the shop's currency, at [`MONEY_SCALE`] places.
    Money,
    MONEY_SCALE
);
additive!(Money);

decimal_newtype!(
    /// Point value or business volume (PV/BV), at [`VOLUME_SCALE`] places:
    /// what commissions and ranks are computed on, never paid as such.
    Volume,
    VOLUME_SCALE
);
additive!(Volume);

decimal_newtype!(
    /// A fraction in [0, 1] with at most [`super::RATE_SCALE`] places
    /// (`0.0125` = 1.25%).
    Rate,
    0
);

impl Money {
    /// Rounds an exact product toward zero to the minor unit (the company
    /// never pays more than the plan says) and returns what rounding kept.
    pub fn toward_zero(unrounded: Decimal) -> (Self, Decimal) {
        let (amount, residue) = payout(unrounded);
        (Self(amount), residue)
    }

    /// Parses a non-negative amount sent by a client.
    pub fn parse(s: &str) -> Result<Self, DecimalError> {
        parse_amount(s, MONEY_SCALE).map(Self)
    }
}

impl Volume {
    /// Parses a non-negative volume sent by a client.
    pub fn parse(s: &str) -> Result<Self, DecimalError> {
        parse_amount(s, VOLUME_SCALE).map(Self)
    }
}

impl Rate {
    /// Parses a rate sent by a client.
    pub fn parse(s: &str) -> Result<Self, DecimalError> {
        parse_rate(s).map(Self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn a_volume_becomes_money_only_through_a_rate_rounded_toward_zero() {
        let bv = Volume(dec!(333.33));
        let (amount, residue) = Money::toward_zero(bv * Rate(dec!(0.03)));
        assert_eq!((amount, residue), (Money(dec!(9.99)), dec!(0.0099)));
        assert_eq!(amount.to_string(), "9.99");
    }

    #[test]
    fn quantities_keep_the_wire_form_of_a_decimal_string() {
        let v: Volume = serde_json::from_str("\"12.50\"").unwrap();
        assert_eq!(v, Volume(dec!(12.50)));
        assert_eq!(serde_json::to_string(&Money(dec!(1250.50))).unwrap(), "\"1250.50\"");
        assert_eq!(Rate::parse("1.5"), Err(DecimalError::NotFraction));
        assert_eq!([Money(dec!(1.10)), Money(dec!(2.25))].iter().sum::<Money>(), Money(dec!(3.35)));
        assert_eq!(
            (Money::ZERO.to_string(), Volume::ZERO.to_string(), Rate::ZERO.to_string()),
            ("0.00".into(), "0.00".into(), "0".into())
        );
    }
}
