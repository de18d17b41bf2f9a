//! Fault drills on the whole platform under load: the database going away
//! and coming back, a backend crashing and restarting. Each fault is made
//! for the test alone, by a proxy it cuts and restores ([`cut::Cuttable`]).

mod backend;
pub mod balancer;
mod cut;
mod database;
mod load;
mod redis;
mod rolling;
