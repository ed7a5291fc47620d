//! One module per flow.

pub mod applications;
pub mod bulk_activate;
pub mod bulk_upload;
pub mod check;
pub mod confirm;
pub mod download;
pub mod health_bank;
pub mod home;
pub mod landing;
pub mod login;
pub mod online;
pub mod passkey_login;
pub mod passkeys;
pub mod password;
pub mod register;
pub mod resend;
pub mod unit_roles;
pub mod units;
/// Not in the citizen area's build (it needs the certificate bridge commands).
#[cfg(not(feature = "citizen"))]
pub mod units_login;
pub mod upload_records;
pub mod webauthn;
