//! What is for sale and at what price: products (price, PV, BV, stock),
//! coupons, flash sales, business accounts' price lists and pickup points. Owns prices and stock; never
//! decides what an order earns (its lines copy the figures of order time).

pub mod coupons;
pub mod flash_sales;
pub mod pickup_points;
pub mod price_lists;
pub mod products;
