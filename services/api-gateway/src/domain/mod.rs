//! The gateway's own rules, apart from serving HTTP and from the services
//! behind it: the public route table, which API version a path asks for,
//! and which path parameters could reach another upstream path than the
//! one authorized.

pub mod api_version;
pub mod path_parameters;
pub mod route_table;
