//! Pure business rules: no I/O, no clock (time is passed in), so they can be
//! unit- and property-tested and replayed from stored inputs.

pub mod business_days;
pub mod campaign;
pub mod campaign_window;
pub mod cascade;
pub mod cohorts;
pub mod delivery;
pub mod loyalty;
pub mod marketplace_fee;
pub mod order_state;
pub mod period;
pub mod pricing;
pub mod retention;
pub mod reversal;
