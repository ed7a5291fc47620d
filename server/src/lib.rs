//! NHI card web registration server (FLOWS F1–F9, F11).
//!
//! Layers: [`http`] (axum) → [`services`] (domain) → [`storage`] (sqlx, SQLite/PostgreSQL)
//! and [`adapters`] (household registry, card authority, mailer); [`workers`] send mail and
//! run the bulk registration jobs.
#![deny(clippy::unwrap_used, clippy::expect_used)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

pub mod adapters;
pub mod app;
pub mod config;
pub mod http;
pub mod metrics;
pub mod services;
pub mod storage;
pub mod workers;
