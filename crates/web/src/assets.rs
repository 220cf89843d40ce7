//! The embedded static files: one stylesheet, htmx and our few lines of script.
//!
//! Pages link them as `/ui/static/<name>?v=<hash>`, the hash of the content computed at
//! compile time, so they can be cached for a year and a new build is fetched at once.

use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

struct Asset {
    name: &'static str,
    content_type: &'static str,
    bytes: &'static [u8],
}

const ASSETS: [Asset; 3] = [
    Asset {
        name: "style.css",
        content_type: "text/css; charset=utf-8",
        bytes: include_bytes!("../static/style.css"),
    },
    Asset {
        name: "htmx.min.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../static/htmx.min.js"),
    },
    Asset {
        name: "app.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../static/app.js"),
    },
];

/// FNV-1a over every asset: changes whenever one does.
const fn version() -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut a = 0;
    while a < ASSETS.len() {
        let bytes = ASSETS[a].bytes;
        let mut i = 0;
        while i < bytes.len() {
            hash ^= bytes[i] as u64;
            hash = hash.wrapping_mul(0x0100_0000_01b3);
            i += 1;
        }
        a += 1;
    }
    hash
}

/// The cache-busting suffix of asset URLs.
pub(crate) const VERSION: u64 = version();

pub(crate) async fn serve(Path(file): Path<String>) -> Response {
    let Some(asset) = ASSETS.iter().find(|asset| asset.name == file) else {
        return (StatusCode::NOT_FOUND, "no such file\n").into_response();
    };
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(asset.content_type)),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=31536000, immutable"),
            ),
        ],
        asset.bytes,
    )
        .into_response()
}
