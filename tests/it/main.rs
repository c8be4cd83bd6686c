//! The black-box integration suite: a real server on port 0, a real database
//! (a fresh SQLite file and a fresh PostgreSQL database per test), spoken to over HTTP
//! or through the `gridwatch` binary. One test binary, one module per capability.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod helpers;

mod access_matrix;
mod auth;
mod campaigns;
mod case_properties;
mod case_rules;
mod cases;
mod cli;
mod delivery;
mod disclosure;
mod draws;
mod evaluation;
mod evidence;
mod faults;
mod form_errors;
mod grid;
mod hardening;
mod http_edge;
mod layers;
mod limits;
mod live;
mod migrations;
mod observability;
mod open311;
mod orphans;
mod patrols;
mod persisted;
mod plans;
mod processes;
mod schema;
mod sites;
mod storage;
mod supervision;
mod sync;
mod text_review;
mod tipster_photos;
mod wechat;
mod wechat_login;
mod wechat_messages;
