//! All of the web service's SQL: its sessions (schema `web`).

pub mod sessions;
