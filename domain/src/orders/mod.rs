//! Orders: placing them (stock taken atomically, all or nothing), reading
//! them with their history, and applying the facts providers report.

mod facts;
pub mod follow_ups;
mod place;
pub mod reversals;
mod view;

pub use facts::*;
pub use place::*;
pub use view::*;
