//! Background workers.

pub mod outbox;
