//! The rules of gridwatch, free of HTTP and GraphQL.

pub mod access;
pub mod accounts;
pub mod cases;
pub mod category;
pub mod evidence;
pub mod evidence_rules;
pub mod geo;
pub mod grid;
pub mod idempotency;
pub mod media;
pub mod page;
pub mod phone;
pub mod sla;
pub mod store;
pub mod tipsters;
