//! Every answer a test receives, checked against the OpenAPI document the server publishes:
//! the route and method are documented, a success status is documented for that operation,
//! and a JSON body validates against its schema (an error against `Error`).
//!
//! The document is OpenAPI 3.0, whose schemas are JSON Schema with `nullable`; they are
//! turned into JSON Schema 2020-12 for the `jsonschema` crate, and made strict on the way:
//! an object schema that lists its properties refuses others, so a field the server sends
//! and the document does not name fails here (a document's own `additionalProperties: false`
//! gives way to that strictness, which also holds across `allOf`).

use std::collections::HashMap;
use std::sync::OnceLock;

use serde_json::{Map, Value, json};

const DOCUMENT: &str = include_str!("../../src/openapi.json");

struct Document {
    openapi: Value,
    /// `components.schemas` as strict JSON Schema, for `$ref`s into it.
    schemas: Value,
    validators: std::sync::Mutex<HashMap<String, std::sync::Arc<jsonschema::Validator>>>,
}

fn document() -> &'static Document {
    static DOCUMENT_ONCE: OnceLock<Document> = OnceLock::new();
    DOCUMENT_ONCE.get_or_init(|| {
        let openapi: Value = serde_json::from_str(DOCUMENT).expect("openapi.json parses");
        let schemas = definitions(&openapi["components"]["schemas"]);
        Document { openapi, schemas, validators: Default::default() }
    })
}

/// `components.schemas` as JSON Schema `$defs`: each schema strict as `NAME`, and as
/// `NAME.part` without its own strictness, for use inside an `allOf`.
fn definitions(schemas: &Value) -> Value {
    let mut out = Map::new();
    for (name, schema) in schemas.as_object().expect("components.schemas") {
        out.insert(name.clone(), json_schema(schema, true));
        out.insert(format!("{name}.part"), json_schema(schema, false));
    }
    Value::Object(out)
}

/// An OpenAPI 3.0 schema as JSON Schema 2020-12. With `strict`, an object schema that lists
/// its properties (itself or through `allOf`) refuses any other (`unevaluatedProperties`
/// sees through `allOf` and `$ref`); the parts of an `allOf` are not strict alone, or no
/// object could pass two of them.
fn json_schema(schema: &Value, strict: bool) -> Value {
    let Value::Object(object) = schema else { return schema.clone() };
    let mut out = Map::new();
    for (key, value) in object {
        let converted = match (key.as_str(), value) {
            ("nullable" | "example", _) | ("additionalProperties", Value::Bool(false)) => continue,
            ("properties", Value::Object(properties)) => Value::Object(
                properties.iter().map(|(k, v)| (k.clone(), json_schema(v, true))).collect(),
            ),
            ("allOf", Value::Array(parts)) => {
                Value::Array(parts.iter().map(|part| json_schema(part, false)).collect())
            }
            ("oneOf" | "anyOf", Value::Array(choices)) => {
                Value::Array(choices.iter().map(|choice| json_schema(choice, true)).collect())
            }
            ("$ref", Value::String(reference)) => {
                let name = reference.trim_start_matches("#/components/schemas/");
                let part = if strict { "" } else { ".part" };
                Value::String(format!("#/$defs/{name}{part}"))
            }
            ("items" | "additionalProperties" | "not", _) => json_schema(value, true),
            _ => value.clone(),
        };
        out.insert(key.clone(), converted);
    }
    if strict && (out.contains_key("properties") || out.contains_key("allOf")) {
        out.insert("unevaluatedProperties".into(), Value::Bool(false));
    }
    if object.get("nullable") != Some(&Value::Bool(true)) {
        return Value::Object(out);
    }
    match out.get("type").cloned() {
        Some(Value::String(kind)) if !out.contains_key("enum") => {
            out.insert("type".into(), json!([kind, "null"]));
            Value::Object(out)
        }
        _ => json!({"anyOf": [Value::Object(out), {"type": "null"}]}),
    }
}

/// The documented operation of `method path` (query left off), if any: a literal segment
/// wins over a `{param}` one, as the router matches.
fn operation(method: &str, path: &str) -> Option<(&'static str, &'static Value)> {
    let path = path.split('?').next().unwrap_or(path);
    let segments: Vec<&str> = path.split('/').collect();
    let paths = document().openapi["paths"].as_object()?;
    let mut best: Option<(usize, &'static str, &'static Value)> = None;
    for (template, item) in paths {
        let parts: Vec<&str> = template.split('/').collect();
        if parts.len() != segments.len() {
            continue;
        }
        let mut literal = 0;
        let matches = parts.iter().zip(&segments).all(|(part, segment)| {
            if part.starts_with('{') {
                !segment.is_empty()
            } else {
                literal += 1;
                part == segment
            }
        });
        let Some(operation) = item.get(method.to_ascii_lowercase()) else { continue };
        if matches && best.is_none_or(|(count, _, _)| literal > count) {
            best = Some((literal, template.as_str(), operation));
        }
    }
    best.map(|(_, template, operation)| (template, operation))
}

/// The schema (as a `$ref`-able JSON Schema) of `operation`'s `status` JSON answer.
fn response_schema(operation: &Value, status: u16) -> Option<Value> {
    let mut response = &operation["responses"][status.to_string()];
    if let Some(reference) = response.get("$ref").and_then(Value::as_str) {
        let name = reference.trim_start_matches("#/components/responses/");
        response = &document().openapi["components"]["responses"][name];
    }
    if response.is_null() {
        return None;
    }
    let schema = &response["content"]["application/json"]["schema"];
    Some(if schema.is_null() { Value::Null } else { json_schema(schema, true) })
}

fn validator(key: &str, schema: &Value) -> std::sync::Arc<jsonschema::Validator> {
    let document = document();
    let mut validators = document.validators.lock().unwrap();
    validators
        .entry(key.to_owned())
        .or_insert_with(|| {
            let mut root = schema.clone();
            if let Value::Object(object) = &mut root {
                object.insert("$defs".into(), document.schemas.clone());
            }
            let validator = jsonschema::draft202012::new(&root)
                .unwrap_or_else(|e| panic!("the OpenAPI schema for {key} does not compile: {e}"));
            std::sync::Arc::new(validator)
        })
        .clone()
}

/// Checks one answer; panics naming the route, the status and what does not match.
pub(crate) fn check(method: &str, path: &str, status: u16, content_type: &str, body: &[u8]) {
    let Some((template, operation)) = operation(method, path) else {
        // Only a refusal may come from a route the document does not have.
        assert!(
            matches!(status, 404 | 405),
            "{method} {path} answered {status} but the OpenAPI document has no such operation"
        );
        return;
    };
    let key = format!("{method} {template} {status}");
    let schema = match response_schema(operation, status) {
        Some(schema) => schema,
        // Every error has one shape, documented or not for this operation (a 401 or 413 can
        // answer anything); a success must be documented exactly.
        None if status >= 400 => json!({"$ref": "#/$defs/Error"}),
        None => panic!("{key}: the OpenAPI document does not list status {status} for it"),
    };
    if schema.is_null() || !content_type.starts_with("application/json") || body.is_empty() {
        return;
    }
    let value: Value = serde_json::from_slice(body)
        .unwrap_or_else(|e| panic!("{key}: the body is not JSON ({e})"));
    let validator = validator(&key, &schema);
    let problems: Vec<String> = validator
        .iter_errors(&value)
        .map(|error| format!("at `{}`: {error}", error.instance_path()))
        .collect();
    assert!(
        problems.is_empty(),
        "{key} does not match the OpenAPI schema:\n{}\n{value:#}",
        problems.join("\n")
    );
}
