//! Request extractors whose rejections are `ApiError`s naming the problem.
//!
//! axum's own `Json` and `Query` answer in plain text; these answer in the API's JSON error
//! format with the offending field: 415 for a body that is not declared JSON, 413 above the
//! body limit, 400 for text that is not JSON or a malformed query, 422 for JSON of the wrong
//! shape (wrong type, missing or unknown field).

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// A JSON body, deserialized into `T`.
#[derive(Debug)]
pub(crate) struct JsonBody<T>(pub(crate) T);

impl<S, T> FromRequest<S> for JsonBody<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let is_json = |mime: &str| {
            mime == "application/json"
                || (mime.starts_with("application/") && mime.ends_with("+json"))
        };
        let bytes = body_of(request, state, "application/json", is_json).await?;
        // Every body is an object; serde would otherwise take `[]` as a struct whose fields
        // all have defaults (a deployment to every host, say).
        if bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[') {
            let problem = "must be a JSON object, not an array";
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("invalid `body`: {problem}"),
            )
            .with_field("body", problem));
        }
        parse_json(&bytes).map(JsonBody)
    }
}

/// A YAML text body (a rule file, a promtool unit-test file): `Content-Type:
/// application/yaml` (or `x-yaml`, `text/yaml`), UTF-8.
#[derive(Debug)]
pub(crate) struct YamlBody(pub(crate) String);

impl<S: Send + Sync> FromRequest<S> for YamlBody {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let is_yaml = |mime: &str| {
            matches!(mime, "application/yaml" | "application/x-yaml" | "text/yaml" | "text/x-yaml")
        };
        let bytes = body_of(request, state, "application/yaml", is_yaml).await?;
        String::from_utf8(bytes.to_vec())
            .map(YamlBody)
            .map_err(|_| ApiError::bad_request("the request body is not UTF-8 text"))
    }
}

/// The body of a request whose media type `accepts`: 415 naming `expected` otherwise, 413
/// above the body limit.
async fn body_of<S: Send + Sync>(
    request: Request,
    state: &S,
    expected: &str,
    accepts: impl Fn(&str) -> bool,
) -> Result<Bytes, ApiError> {
    let content_type =
        request.headers().get(header::CONTENT_TYPE).and_then(|value| value.to_str().ok());
    let mime = content_type
        .map(|value| value.split(';').next().unwrap_or_default().trim().to_ascii_lowercase());
    if !mime.as_deref().is_some_and(accepts) {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!(
                "expected `Content-Type: {expected}`, got {}",
                content_type.map_or("none".to_owned(), |t| format!("`{t}`"))
            ),
        ));
    }
    Bytes::from_request(request, state).await.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "request body is larger than the server's limit",
            )
        } else {
            ApiError::bad_request(format!("cannot read the request body: {rejection}"))
        }
    })
}

/// Deserializes `bytes`, naming the field of a shape error.
pub(crate) fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let deserializer = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(deserializer).map_err(|error| {
        let path = error.path().to_string();
        let inner = error.into_inner();
        if !inner.is_data() {
            return ApiError::bad_request(format!("request body is not valid JSON: {inner}"));
        }
        let problem = strip_position(&inner.to_string());
        let field = named_field(&problem).map_or(path.clone(), |name| join(&path, &name));
        let field = if field.is_empty() || field == "." { "body".to_owned() } else { field };
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, format!("invalid `{field}`: {problem}"))
            .with_field(field, problem)
    })
}

/// Query parameters, deserialized into `T`.
#[derive(Debug)]
pub(crate) struct QueryParams<T>(pub(crate) T);

impl<S, T> FromRequestParts<S> for QueryParams<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        let query = parts.uri.query().unwrap_or_default();
        let deserializer =
            serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        serde_path_to_error::deserialize(deserializer).map(QueryParams).map_err(|error| {
            let path = error.path().to_string();
            let problem = error.into_inner().to_string();
            let field = named_field(&problem).unwrap_or(path);
            ApiError::bad_request(format!("invalid query parameter `{field}`: {problem}"))
                .with_field(field, problem)
        })
    }
}

/// The name in a serde message such as "missing field `expression`" or
/// "unknown field `foo`, expected one of …".
fn named_field(problem: &str) -> Option<String> {
    let rest = problem
        .strip_prefix("missing field `")
        .or_else(|| problem.strip_prefix("unknown field `"))?;
    rest.split('`').next().map(str::to_owned)
}

/// `path.name`, unless the path already ends with the name (serde_path_to_error puts an
/// unknown key in the path, a missing one not).
fn join(path: &str, name: &str) -> String {
    if path.is_empty() || path == "." {
        name.to_owned()
    } else if path == name || path.ends_with(&format!(".{name}")) {
        path.to_owned()
    } else {
        format!("{path}.{name}")
    }
}

/// "… at line 1 column 17" helps nobody reading a field-level message.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(index) => message[..index].to_owned(),
        None => message.to_owned(),
    }
}

/// A numeric id from a path segment.
pub(crate) fn parse_id(text: &str) -> Result<i64, ApiError> {
    text.parse().map_err(|_| {
        ApiError::bad_request(format!("`{text}` is not a numeric id"))
            .with_field("id", "must be a whole number")
    })
}

/// A numeric `{id}` path segment.
#[derive(Debug)]
pub(crate) struct Id(pub(crate) i64);

impl<S: Send + Sync> FromRequestParts<S> for Id {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match axum::extract::Path::<String>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(text)) => parse_id(&text).map(Id),
            Err(rejection) => Err(ApiError::bad_request(format!("invalid path: {rejection}"))),
        }
    }
}

/// The query of a listing that takes no filters: any parameter is a 400 naming it, never a
/// filter silently ignored (`/shards?name=x` answering every shard).
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NoFilters {}
