//! Fault drills on the whole platform under load: the database going away
//! and coming back, a backend crashing and restarting, a backend's first
//! connection failing, SIGTERM to every backend and rolling restarts. Each
//! fault is made for the test alone, by a proxy it cuts and restores
//! ([`cut::Cuttable`]), a balancer ([`balancer::Balancer`]) or a listener
//! of its own.

mod backend;
pub mod balancer;
mod cut;
mod database;
mod load;
mod redis;
mod retry;
mod rolling;
mod sigterm;
