//! haat's business: members and their tree, catalog, plans, orders and
//! their state machine, volume, the commission cascade, the ledger, webhooks
//! and notifications — and their Postgres persistence.
//!
//! Layout:
//! - [`rules`]: pure rule functions (no I/O, no clock), unit- and
//!   property-tested.
//! - one module per business area ([`members`], [`catalog`], [`plans`],
//!   [`orders`], [`commissions`], [`ledger`], [`webhooks`],
//!   [`notifications`], [`auth`], [`idempotency`]): functions that take the
//!   caller's `&mut PgConnection`, so the caller owns the transaction.
//! - [`jobs`]: job payloads (ids only) and [`jobs::enqueue`], the one place
//!   that writes job rows, inside the caller's transaction.
//!
//! Process plumbing (settings, the pool, the embedded cluster, logging,
//! metrics) lives in `haat_platform`. This crate knows nothing of HTTP or
//! of processes.

pub mod audit;
pub mod auth;
pub mod campaigns;
pub mod cascade_inputs;
pub mod catalog;
pub mod commissions;
pub mod coupons;
pub mod demo;
pub mod error;
pub mod flash_sales;
pub mod idempotency;
pub mod input;
pub mod jobs;
pub mod ledger;
pub mod loyalty;
pub mod members;
pub mod money;
pub mod notifications;
pub mod orders;
pub mod periods;
pub mod pickup_points;
pub mod plans;
pub mod providers;
pub mod reversals;
pub mod rules;
pub mod seed;
pub mod simulation;
pub mod webhooks;
pub mod withdrawals;

pub use error::{DomainError, DomainResult, FieldError};
