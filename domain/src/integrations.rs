//! The outside world's events: one adapter per payment gateway and
//! courier (`providers`: authentication helpers, dedupe keys, body →
//! normalized event, reading confirmation answers — no I/O) and the stored
//! webhook events and their processing into order facts (`webhooks`);
//! and haat's own events out to a shop's other systems (`events`: signed
//! deliveries on the Standard Webhooks schedule). Never calls a provider
//! or an endpoint itself: the worker does, between transactions.

pub mod events;
pub mod providers;
pub mod webhooks;
