//! The network: members, their sponsor tree and placement in it, and the
//! team and volume views of a member's downline. Owns the `members` table
//! and the tree's shape; never pays anyone (that is `compensation`).

pub mod genealogy;
pub mod members;
pub mod sharing;
