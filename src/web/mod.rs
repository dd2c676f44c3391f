//! What the partner portal (`crate::portal`) and the platform console (`crate::console`)
//! share: the page layout, error pages, CSRF checks and session cookies.

pub mod forms;
pub mod pages;
