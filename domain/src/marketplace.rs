//! The marketplace: the sellers whose products a shop sells beside its
//! own (`sellers`: applying, approval, suspension), the fee schedules their
//! lines are sold under (`fees`), and each seller's share of its lines held
//! in escrow until after delivery (`escrow`).

pub mod escrow;
pub mod fees;
pub mod sellers;
