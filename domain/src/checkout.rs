//! Checkout and fulfilment driven by haat on a storefront's behalf:
//! payment sessions opened at a gateway (`payments`), parcels booked
//! with a courier (`shipments`). The calls to the
//! providers themselves are made outside this crate (no I/O here beyond
//! the database); what is sent and what the answers mean is decided here
//! and in `integrations::providers`.

pub mod payments;
pub mod shipments;
