//! gridwatch: the backend of a county's environmental grid supervision.
//!
//! See `DESIGN.md` in the shared folder for the architecture; this crate holds the
//! server binary's library: configuration, domain rules, GraphQL and HTTP edges.

pub mod app;
pub mod auth;
pub mod clock;
pub mod config;
pub mod db;
pub mod domain;
pub mod error;
pub mod graphql;
pub mod http;
pub mod jobs;
pub mod live;
pub mod observe;
pub mod persisted;
pub mod ratelimit;
pub mod seed;
pub mod state;
pub mod storage;
pub mod telemetry;
pub mod wechat;
