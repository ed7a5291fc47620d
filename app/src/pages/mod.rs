//! One module per flow.

pub mod applications;
pub mod check;
pub mod confirm;
pub mod health_bank;
pub mod home;
pub mod landing;
pub mod login;
pub mod online;
pub mod password;
pub mod register;
pub mod resend;
