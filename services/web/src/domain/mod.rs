//! What the pages rely on besides the API: sessions and their CSRF
//! tokens, and the charts drawn on the server.

pub mod charts;
pub mod sealing;
pub mod sessions;
