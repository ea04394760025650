//! A business account's prices: its tier's price list replaces a
//! product's price (and its PV or BV where the list gives them), and a
//! quantity break takes a rate off. BV, the commission basis, follows the
//! price actually paid unless the list sets it: a wholesale price carries
//! a wholesale commission. (A flash sale is the shop's own promotion and
//! keeps the product's BV; see `catalog::flash_sales`.)

use rust_decimal::Decimal;
use uuid::Uuid;

use crate::money::payout;

/// A product's line on a price list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListEntry {
    /// The list's unit price.
    pub price: Decimal,
    /// The list's PV per unit (none: the product's).
    pub pv: Option<Decimal>,
    /// The list's BV per unit (none: the product's, scaled to the price).
    pub bv: Option<Decimal>,
}

/// A quantity break of a price list: `rate` off the unit price from
/// `min_quantity` units of a product, or of a category, in one order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuantityBreak {
    /// Id.
    pub id: Uuid,
    /// The product it is on (or none: `category`).
    pub product_id: Option<Uuid>,
    /// The category it is on (or none: `product_id`).
    pub category: Option<String>,
    /// Units of the order from which it applies.
    pub min_quantity: i64,
    /// Fraction off the unit price, (0, 1).
    pub rate: Decimal,
}

/// What a product costs without an account: its price now (a flash
/// sale's, if one runs), its catalog price, PV and BV.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shelf {
    /// The price anyone pays now.
    pub price: Decimal,
    /// The catalog price (what BV is the BV of).
    pub catalog_price: Decimal,
    /// PV per unit.
    pub pv: Decimal,
    /// BV per unit.
    pub bv: Decimal,
}

/// A line's unit figures as priced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnitPrice {
    /// What the buyer pays per unit.
    pub price: Decimal,
    /// PV per unit.
    pub pv: Decimal,
    /// BV per unit.
    pub bv: Decimal,
}

/// The break that applies to a line: the product's own break with the
/// highest threshold the order's units of that product reach, else the
/// category's that the order's units of the category reach.
pub fn best_break<'a>(
    breaks: &'a [QuantityBreak],
    (product_id, category): (Uuid, &str),
    (product_units, category_units): (i64, i64),
) -> Option<&'a QuantityBreak> {
    let highest = |applies: &dyn Fn(&QuantityBreak) -> bool, units: i64| {
        breaks.iter().filter(|b| applies(b) && b.min_quantity <= units).max_by_key(|b| b.min_quantity)
    };
    highest(&|b| b.product_id == Some(product_id), product_units)
        .or_else(|| highest(&|b| b.category.as_deref() == Some(category), category_units))
}

/// The unit figures of a line: the list's entry replaces the shelf price
/// (and PV, BV where it gives them); without a list BV, BV is the
/// product's scaled by the list price ÷ the catalog price. A break then
/// takes its rate off the unit price (the discount rounded toward zero to
/// the cent, as a coupon's is) and BV is scaled by the same fraction of
/// the price paid. Every BV is rounded toward zero to the cent.
pub fn unit_price(shelf: Shelf, entry: Option<ListEntry>, rate: Option<Decimal>) -> UnitPrice {
    let scaled = |bv: Decimal, paid: Decimal, of: Decimal| {
        if of.is_zero() { bv } else { payout(bv * paid / of).0 }
    };
    let base = match entry {
        Some(e) => UnitPrice {
            price: e.price,
            pv: e.pv.unwrap_or(shelf.pv),
            bv: e.bv.unwrap_or_else(|| scaled(shelf.bv, e.price, shelf.catalog_price)),
        },
        None => UnitPrice { price: shelf.price, pv: shelf.pv, bv: shelf.bv },
    };
    match rate {
        None => base,
        Some(rate) => {
            let price = base.price - payout(base.price * rate).0;
            UnitPrice { price, pv: base.pv, bv: scaled(base.bv, price, base.price) }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    fn shelf() -> Shelf {
        Shelf { price: dec!(450.00), catalog_price: dec!(450.00), pv: dec!(20.00), bv: dec!(300.00) }
    }

    #[test]
    fn a_list_price_without_a_list_bv_scales_the_products_bv_to_what_is_paid() {
        let entry = ListEntry { price: dec!(360.00), pv: None, bv: None };
        let priced = unit_price(shelf(), Some(entry), None);
        // 300.00 × 360 ÷ 450 = 240.00; PV stays the product's.
        assert_eq!(priced, UnitPrice { price: dec!(360.00), pv: dec!(20.00), bv: dec!(240.00) });
    }

    #[test]
    fn a_list_that_sets_pv_and_bv_is_taken_as_it_is() {
        let entry = ListEntry { price: dec!(360.00), pv: Some(dec!(15.00)), bv: Some(dec!(200.00)) };
        let priced = unit_price(shelf(), Some(entry), None);
        assert_eq!(priced, UnitPrice { price: dec!(360.00), pv: dec!(15.00), bv: dec!(200.00) });
    }

    #[test]
    fn a_break_takes_its_rate_off_rounded_toward_zero_and_bv_follows_the_price_paid() {
        let entry = ListEntry { price: dec!(333.33), pv: None, bv: None };
        // 333.33 × 300 ÷ 450 = 222.22; 7.5% of 333.33 = 24.99975 → 24.99 off: 308.34;
        // BV 222.22 × 308.34 ÷ 333.33 = 205.5666… → 205.56.
        let priced = unit_price(shelf(), Some(entry), Some(dec!(0.075)));
        assert_eq!(priced, UnitPrice { price: dec!(308.34), pv: dec!(20.00), bv: dec!(205.56) });
    }

    #[test]
    fn without_a_list_the_shelf_price_stands_and_a_flash_sale_keeps_the_products_bv() {
        let sale = Shelf { price: dec!(400.00), ..shelf() };
        assert_eq!(unit_price(sale, None, None), UnitPrice { price: dec!(400.00), pv: dec!(20.00), bv: dec!(300.00) });
    }

    #[test]
    fn the_products_own_break_wins_over_its_categorys_and_the_highest_reached_threshold_applies() {
        let (tea, other) = (Uuid::from_u128(1), Uuid::from_u128(2));
        let b = |id: u128, product: Option<Uuid>, category: Option<&str>, min: i64, rate| QuantityBreak {
            id: Uuid::from_u128(id),
            product_id: product,
            category: category.map(str::to_owned),
            min_quantity: min,
            rate,
        };
        let breaks = [
            b(10, Some(tea), None, 10, dec!(0.05)),
            b(11, Some(tea), None, 50, dec!(0.10)),
            b(12, None, Some("grocery"), 20, dec!(0.08)),
        ];
        let id = |found: Option<&QuantityBreak>| found.map(|b| b.id.as_u128());
        assert_eq!(id(best_break(&breaks, (tea, "grocery"), (9, 9))), None);
        assert_eq!(id(best_break(&breaks, (tea, "grocery"), (10, 10))), Some(10));
        assert_eq!(id(best_break(&breaks, (tea, "grocery"), (49, 60))), Some(10), "the product's own break first");
        assert_eq!(id(best_break(&breaks, (tea, "grocery"), (50, 60))), Some(11));
        assert_eq!(id(best_break(&breaks, (other, "grocery"), (5, 19))), None);
        assert_eq!(id(best_break(&breaks, (other, "grocery"), (5, 20))), Some(12), "the category's units count");
        assert_eq!(id(best_break(&breaks, (other, "books"), (5, 20))), None);
    }
}
