//! One module per flow.

pub mod check;
pub mod confirm;
pub mod home;
pub mod landing;
pub mod login;
pub mod password;
pub mod register;
pub mod resend;
