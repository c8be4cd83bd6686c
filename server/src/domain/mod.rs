//! The rules of gridwatch, free of HTTP and GraphQL.

pub mod category;
pub mod geo;
pub mod grid;
pub mod phone;
