//! Integration tests: every endpoint over HTTP against a real database.
//! Run against PostgreSQL by setting `GRIDDESK_TEST_DATABASE_URL` to a
//! server URL whose user may create databases.
#![allow(clippy::unwrap_used)]

mod anonymity;
mod audit;
mod auth;
mod category_cache;
mod cli;
mod errors;
mod export;
mod field_codes;
mod health;
mod lifecycle;
mod limits;
mod local_days;
mod logs;
mod matrix;
mod mediation;
mod metrics;
mod notification_stream;
mod notifications;
mod openapi;
mod pipeline;
mod posts;
mod row_cache;
mod schema;
mod schema_parity;
mod search;
mod secrets;
mod session_cache;
mod shapes;
mod startup;
mod stats;
mod stats_breaches;
mod stats_recount;
mod support;
mod tickets;
mod token;
mod units;
mod users;
mod visibility;
mod web;
mod webhooks;
mod worker;
