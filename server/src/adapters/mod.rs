//! Adapters to the outside world, each behind a trait so production can swap them.

pub mod card_authority;
pub mod claims;
pub mod id_verification;
pub mod mailer;
pub mod registry;
pub mod revocation;
pub mod tls;
