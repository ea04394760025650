//! The marketplace: the sellers whose products a shop sells beside its
//! own (`sellers`: applying, approval, suspension). A product may name an
//! approved seller; a suspended seller's products cannot be ordered.

pub mod sellers;
