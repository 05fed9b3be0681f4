//! The lab's routes, one module per topic, merged in [`super::Lab::router`].

pub mod basics;
pub mod lab_api;
pub mod tasks;
pub mod users;
