//! What templates share: the page chrome (who, what they may do, the CSRF token), times in
//! UTC with their age, coloured diffs, and the headers every answer carries.

use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;
use chrono::{DateTime, NaiveDateTime, Utc};
use promrules_api::Scope;

use crate::session::Viewer;

/// The frame of every page: the viewer, the navigation, the asset version.
#[derive(Debug, Clone)]
pub(crate) struct Chrome {
    pub(crate) actor: String,
    pub(crate) scope: Scope,
    pub(crate) csrf: String,
    pub(crate) signed_in: bool,
    /// The navigation entry of this page (`rules`, `hosts`, …).
    pub(crate) nav: &'static str,
    pub(crate) assets: u64,
}

impl Chrome {
    pub(crate) fn new(viewer: &Viewer, nav: &'static str) -> Chrome {
        Chrome {
            actor: viewer.actor.clone(),
            scope: viewer.scope,
            csrf: viewer.csrf.clone(),
            signed_in: viewer.signed_in,
            nav,
            assets: crate::assets::VERSION,
        }
    }

    pub(crate) fn can_write(&self) -> bool {
        self.scope >= Scope::Write
    }

    pub(crate) fn can_deploy(&self) -> bool {
        self.scope >= Scope::Deploy
    }

    pub(crate) fn is_admin(&self) -> bool {
        self.scope >= Scope::Admin
    }

    /// `current` for the navigation entry of this page.
    pub(crate) fn current(&self, nav: &str) -> &'static str {
        if self.nav == nav { "page" } else { "false" }
    }
}

/// A point in time as pages show it: UTC, with how long ago.
#[derive(Debug, Clone)]
pub(crate) struct Time {
    pub(crate) iso: String,
    pub(crate) utc: String,
    pub(crate) age: String,
}

impl Time {
    pub(crate) fn new(at: DateTime<Utc>) -> Time {
        Time {
            iso: at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            utc: at.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
            age: age(Utc::now().signed_duration_since(at)),
        }
    }

    pub(crate) fn naive(at: NaiveDateTime) -> Time {
        Time::new(at.and_utc())
    }
}

/// `just now`, `42 s ago`, `5 min ago`, `3 h ago`, `12 days ago`.
fn age(elapsed: chrono::TimeDelta) -> String {
    let seconds = elapsed.num_seconds();
    match seconds {
        ..=1 => "just now".to_owned(),
        2..=59 => format!("{seconds} s ago"),
        60..=3599 => format!("{} min ago", seconds / 60),
        3600..=86_399 => format!("{} h ago", seconds / 3600),
        _ => format!("{} days ago", seconds / 86_400),
    }
}

/// One line of a unified diff, with the class that colours it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DiffLine {
    /// `add`, `del`, `hunk` or `ctx`.
    pub(crate) class: &'static str,
    pub(crate) text: String,
}

/// A unified diff of `before` against `after`, three lines of context.
pub(crate) fn diff(before: &str, after: &str) -> Vec<DiffLine> {
    let text = similar::TextDiff::from_lines(before, after)
        .unified_diff()
        .context_radius(3)
        .header("before", "after")
        .to_string();
    classify(&text)
}

/// The lines of a unified diff text (a deploy report's), classified.
pub(crate) fn classify(text: &str) -> Vec<DiffLine> {
    text.lines()
        .map(|line| {
            let class = if line.starts_with("+++") || line.starts_with("---") {
                "file"
            } else if line.starts_with('+') {
                "add"
            } else if line.starts_with('-') {
                "del"
            } else if line.starts_with("@@") {
                "hunk"
            } else {
                "ctx"
            };
            DiffLine { class, text: line.to_owned() }
        })
        .collect()
}

/// The non-empty `pairs` as a query string ending in `&` (or nothing), for links that add
/// `page=N`.
pub(crate) fn query_base(pairs: &[(&str, &str)]) -> String {
    let mut base = form_urlencoded::Serializer::new(String::new());
    for (key, value) in pairs {
        if !value.is_empty() {
            base.append_pair(key, value);
        }
    }
    let mut base = base.finish();
    if !base.is_empty() {
        base.push('&');
    }
    base
}

/// How many pages of `size` hold `total` items (at least one).
pub(crate) fn page_count(total: i64, size: i64) -> i64 {
    ((total + size - 1) / size).max(1)
}

/// A stored entity (JSON) as YAML for a before/after diff; empty for none.
pub(crate) fn yaml(value: Option<&serde_json::Value>) -> String {
    match value {
        None => String::new(),
        Some(value) => serde_yaml::to_string(value).unwrap_or_else(|_| value.to_string()),
    }
}

/// Security headers on every answer, and no caching of pages (they hold CSRF tokens).
pub(crate) async fn security_headers(request: Request, next: Next) -> Response {
    let is_asset = request.uri().path().starts_with("/ui/static/");
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
             frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
        ),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    if !is_asset {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_read_naturally() {
        let seconds = chrono::TimeDelta::seconds;
        assert_eq!(age(seconds(0)), "just now");
        assert_eq!(age(seconds(42)), "42 s ago");
        assert_eq!(age(seconds(300)), "5 min ago");
        assert_eq!(age(seconds(3 * 3600 + 5)), "3 h ago");
        assert_eq!(age(seconds(12 * 86_400)), "12 days ago");
    }

    #[test]
    fn diffs_colour_each_line() {
        let lines = diff("a: 1\nb: 2\n", "a: 1\nb: 3\n");
        let classes: Vec<&str> = lines.iter().map(|line| line.class).collect();
        assert_eq!(classes, ["file", "file", "hunk", "ctx", "del", "add"]);
        assert_eq!(lines[4].text, "-b: 2");
        assert_eq!(lines[5].text, "+b: 3");
    }
}
