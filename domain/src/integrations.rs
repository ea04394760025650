//! The outside world's events: one adapter per payment gateway and
//! courier (`providers`: authentication helpers, dedupe keys, body →
//! normalized event, reading confirmation answers — no I/O) and the stored
//! webhook events and their processing into order facts (`webhooks`).
//! Never calls a provider itself: the worker does, between transactions.

pub mod providers;
pub mod webhooks;
