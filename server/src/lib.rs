//! NHI card web registration server (FLOWS F1, F2, F3, F8).
//!
//! Layers: [`http`] (axum) → [`services`] (domain) → [`storage`] (sqlx, SQLite/PostgreSQL)
//! and [`adapters`] (household registry, card authority, mailer); [`workers`] send mail.

pub mod adapters;
pub mod app;
pub mod config;
pub mod http;
pub mod metrics;
pub mod services;
pub mod storage;
pub mod workers;
