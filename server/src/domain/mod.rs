//! The rules of gridwatch, free of HTTP and GraphQL.

pub mod access;
pub mod accounts;
pub mod category;
pub mod geo;
pub mod grid;
pub mod page;
pub mod phone;
pub mod sla;
pub mod tipsters;
