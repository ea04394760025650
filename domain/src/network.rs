//! The network: members, their sponsor tree and placement in it, and the
//! team and volume views of a member's downline, and the business
//! accounts that group members who buy for one business. Owns the `members` table
//! and the tree's shape; never pays anyone (that is `compensation`).

pub mod business_accounts;
pub mod genealogy;
pub mod members;
pub mod sharing;
