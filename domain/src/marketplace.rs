//! The marketplace: the sellers whose products a shop sells beside its
//! own (`sellers`: applying, approval, suspension), the fee schedules their
//! lines are sold under (`fees`), each seller's share of its lines held in
//! escrow until after delivery (`escrow`), the time a seller has to
//! prepare a line and the penalty for missing it (`preparation`), and the
//! seller's view of its lines (`lines`).

pub mod escrow;
pub mod fees;
pub mod finance;
pub mod lines;
pub mod preparation;
pub mod sellers;
