//! Posted forms: the CSRF check every post passes, and typed reads of the fields.
//!
//! Forms are read as ordered `application/x-www-form-urlencoded` pairs rather than into
//! structs, because key/value editors repeat their field names (`label_key`, `label_value`).

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use subtle::ConstantTimeEq;

use crate::WebError;
use crate::session::Viewer;

/// The largest form accepted (a rule with long annotations fits many times over).
const MAX_FORM: usize = 256 * 1024;

/// A form posted by a session whose CSRF token it carries.
#[derive(Debug)]
pub(crate) struct Posted {
    pub(crate) viewer: Viewer,
    pub(crate) form: FormData,
}

impl<S: Send + Sync> FromRequest<S> for Posted {
    type Rejection = WebError;

    async fn from_request(request: Request, state: &S) -> Result<Posted, WebError> {
        let (mut parts, body) = request.into_parts();
        let viewer =
            <Viewer as axum::extract::FromRequestParts<S>>::from_request_parts(&mut parts, state)
                .await?;
        let bytes = axum::body::to_bytes(body, MAX_FORM).await.map_err(|_| {
            WebError::BadRequest(format!("the form is larger than {MAX_FORM} bytes"))
        })?;
        let form = FormData::parse(&bytes);
        check_csrf(&viewer.csrf, form.get("csrf"))?;
        Ok(Posted { viewer, form })
    }
}

/// Compares the posted token with the session's in constant time.
pub(crate) fn check_csrf(expected: &str, posted: Option<&str>) -> Result<(), WebError> {
    let posted = posted.unwrap_or_default();
    if bool::from(posted.as_bytes().ct_eq(expected.as_bytes())) && !expected.is_empty() {
        Ok(())
    } else {
        Err(WebError::BadRequest(
            "the form's CSRF token is missing or stale: reload the page and try again".into(),
        ))
    }
}

/// The fields of a posted form, in order.
#[derive(Debug, Default)]
pub(crate) struct FormData {
    pairs: Vec<(String, String)>,
}

impl FormData {
    pub(crate) fn parse(bytes: &Bytes) -> FormData {
        FormData { pairs: form_urlencoded::parse(bytes).into_owned().collect() }
    }

    /// The first value of `name`.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.pairs.iter().find(|(key, _)| key == name).map(|(_, value)| value.as_str())
    }

    /// The value of `name` with surrounding whitespace removed; empty when absent.
    pub(crate) fn text(&self, name: &str) -> String {
        self.get(name).unwrap_or_default().trim().to_owned()
    }

    /// The value of `name`, `None` when absent or blank.
    pub(crate) fn optional(&self, name: &str) -> Option<String> {
        Some(self.text(name)).filter(|text| !text.is_empty())
    }

    /// A checkbox: present and not `false`/`off`.
    pub(crate) fn checked(&self, name: &str) -> bool {
        self.get(name).is_some_and(|value| !matches!(value, "false" | "off" | "0"))
    }

    /// Every value of `name`.
    pub(crate) fn all(&self, name: &str) -> Vec<&str> {
        self.pairs.iter().filter(|(key, _)| key == name).map(|(_, value)| value.as_str()).collect()
    }

    /// A key/value editor: the `keys` and `values` fields zipped, rows with a blank key
    /// dropped.
    pub(crate) fn pairs(&self, keys: &str, values: &str) -> BTreeMap<String, String> {
        self.all(keys)
            .into_iter()
            .zip(self.all(values))
            .filter(|(key, _)| !key.trim().is_empty())
            .map(|(key, value)| (key.trim().to_owned(), value.to_owned()))
            .collect()
    }

    /// An optional integer field; a value that is not one is an error naming the field.
    pub(crate) fn number(&self, name: &str) -> Result<Option<i64>, (String, String)> {
        match self.optional(name) {
            None => Ok(None),
            Some(text) => text
                .parse()
                .map(Some)
                .map_err(|_| (name.to_owned(), format!("`{text}` is not a whole number"))),
        }
    }
}
