//! haat's business: members and their tree, catalog, plans, orders and
//! their state machine, volume, the commission cascade, the ledger, webhooks
//! and notifications — and their Postgres persistence.
//!
//! Layout:
//! - [`rules`]: pure rule functions (no I/O, no clock), unit- and
//!   property-tested.
//! - one folder per business area — [`network`] (members, the tree),
//!   [`catalog`] (products, coupons, flash sales, pickup points),
//!   [`orders`] (placing, facts, reversals), [`compensation`] (plans,
//!   commissions, periods, simulation), [`ledger`] (postings, bulk,
//!   withdrawals), [`rewards`] (campaigns, loyalty), [`integrations`]
//!   (providers, webhooks), [`reports`] (finance reports, read-only) —
//!   whose functions take the caller's
//!   `&mut PgConnection`, so the caller owns the transaction.
//! - what every area shares: [`money`] and [`input`] (what outside values
//!   may be), [`notifications`], [`auth`], [`idempotency`], [`audit`].
//! - [`jobs`]: job payloads (ids only) and [`jobs::enqueue`], the one place
//!   that writes job rows, inside the caller's transaction.
//!
//! Process plumbing (settings, the pool, the embedded cluster, logging,
//! metrics) lives in `haat_platform`. This crate knows nothing of HTTP or
//! of processes.

pub mod audit;
pub mod auth;
pub mod catalog;
pub mod checkout;
pub mod compensation;
pub mod demo;
pub mod error;
pub mod idempotency;
pub mod ids;
pub mod input;
pub mod integrations;
pub mod jobs;
pub mod ledger;
pub mod marketplace;
pub mod money;
pub mod network;
pub mod notifications;
pub mod orders;
pub mod reports;
pub mod rewards;
pub mod rules;
pub mod seed;
pub mod words;

pub use error::{DomainError, DomainResult, FieldError};
