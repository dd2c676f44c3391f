//! What the partner portal (`crate::portal`) and the platform console (`crate::console`)
//! share: the page layout, error pages, CSRF checks, session cookies, the sign-in flow
//! and the security headers of every page answer.

pub mod error;
pub mod forms;
pub mod headers;
pub mod pages;
pub mod sign_in;
