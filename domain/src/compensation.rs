//! What the network earns: plan versions, the inputs of an order's
//! cascade, the commissions it posts and releases, the monthly period
//! close (ranks, bonuses) and the simulation of a draft plan. The rules
//! themselves are pure and live in `rules`; this area reads their inputs
//! and writes their results, never moving money except through `ledger`.

pub mod cascade_inputs;
pub mod commissions;
pub mod explained;
pub mod periods;
pub mod plans;
pub mod simulation;
