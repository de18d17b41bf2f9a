//! The stylesheet and script, served under names that carry a hash of
//! their content, so they are cached for a year and a new release is
//! fetched at once.

use std::sync::LazyLock;

use sha2::{Digest, Sha256};

/// One vendored file and its content-hashed name.
#[derive(Debug)]
pub struct Asset {
    pub name: String,
    pub content_type: &'static str,
    pub body: &'static str,
}

fn hashed(stem: &str, ext: &str, content_type: &'static str, body: &'static str) -> Asset {
    let digest = Sha256::digest(body.as_bytes());
    let hash: String = digest[..6].iter().map(|b| format!("{b:02x}")).collect();
    Asset {
        name: format!("{stem}.{hash}.{ext}"),
        content_type,
        body,
    }
}

pub static STYLESHEET: LazyLock<Asset> = LazyLock::new(|| {
    hashed(
        "app",
        "css",
        "text/css; charset=utf-8",
        include_str!("../../static/app.css"),
    )
});

pub static SCRIPT: LazyLock<Asset> = LazyLock::new(|| {
    hashed(
        "app",
        "js",
        "text/javascript; charset=utf-8",
        include_str!("../../static/app.js"),
    )
});

/// The asset served as `/static/{name}`.
pub fn find(name: &str) -> Option<&'static Asset> {
    [&*STYLESHEET, &*SCRIPT]
        .into_iter()
        .find(|asset| asset.name == name)
}
