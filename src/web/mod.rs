//! What the partner portal (`crate::portal`) and the platform console (`crate::console`)
//! share: the page layout, error pages, CSRF checks, session cookies and the sign-in flow.

pub mod error;
pub mod forms;
pub mod pages;
pub mod sign_in;
