//! The failure service's background work: each job claims its work with
//! `FOR UPDATE SKIP LOCKED`, so replicas share it, and opens a
//! transaction confined to one project per item.

pub mod outbox_relay;
