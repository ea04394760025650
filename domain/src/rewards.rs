//! What buyers earn: cashback campaigns (deadline settlements, their
//! payouts and clawbacks) and loyalty (instant rewards, tiers, points lots
//! and their expiry), challenges and badges, and milestone emails. Money moves only through `ledger`; the deciding
//! rules are pure in `rules`.

pub mod campaigns;
pub mod challenges;
pub mod loyalty;
pub mod milestones;
pub mod received;
