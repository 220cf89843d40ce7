//! The leniency of Go's `encoding/json`, which the original decoded webhooks with, for the
//! shapes of a webhook message: an object key matches a field case-insensitively (an exact
//! match first), the last of duplicate keys wins, `null` leaves a field at its zero value
//! (an empty string, map or list; inside a map, a `null` value is the empty string), and
//! unknown keys are ignored.
//!
//! The body is read keeping its object keys in document order (the order decides which of
//! `status` and `Status` wins), then rewritten onto the field names serde expects, so
//! `Message` keeps a plain derived `Deserialize`.

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

/// A JSON value with its object keys in document order.
enum Ordered {
    Null,
    Scalar(Value),
    Array(Vec<Ordered>),
    Object(Vec<(String, Ordered)>),
}

impl<'de> Deserialize<'de> for Ordered {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Ordered, D::Error> {
        deserializer.deserialize_any(OrderedVisitor)
    }
}

struct OrderedVisitor;

impl<'de> Visitor<'de> for OrderedVisitor {
    type Value = Ordered;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E>(self) -> Result<Ordered, E> {
        Ok(Ordered::Null)
    }

    fn visit_none<E>(self) -> Result<Ordered, E> {
        Ok(Ordered::Null)
    }

    fn visit_bool<E>(self, value: bool) -> Result<Ordered, E> {
        Ok(Ordered::Scalar(Value::Bool(value)))
    }

    fn visit_i64<E>(self, value: i64) -> Result<Ordered, E> {
        Ok(Ordered::Scalar(value.into()))
    }

    fn visit_u64<E>(self, value: u64) -> Result<Ordered, E> {
        Ok(Ordered::Scalar(value.into()))
    }

    fn visit_f64<E>(self, value: f64) -> Result<Ordered, E> {
        Ok(Ordered::Scalar(value.into()))
    }

    fn visit_str<E>(self, value: &str) -> Result<Ordered, E> {
        Ok(Ordered::Scalar(Value::String(value.to_owned())))
    }

    fn visit_string<E>(self, value: String) -> Result<Ordered, E> {
        Ok(Ordered::Scalar(Value::String(value)))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Ordered, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Ordered::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Ordered, A::Error> {
        let mut entries = Vec::new();
        while let Some(entry) = map.next_entry::<String, Ordered>()? {
            entries.push(entry);
        }
        Ok(Ordered::Object(entries))
    }
}

/// What a field holds, as far as leniency goes.
#[derive(Clone, Copy)]
pub(crate) enum Shape {
    /// A string, number or time: `null` leaves it unset.
    Plain,
    /// `map[string]string`: keys as they are, a `null` value is `""`.
    StringMap,
    /// A list of objects of these fields.
    ObjectList(&'static [(&'static str, Shape)]),
}

/// `body` with every object of `fields` rewritten as Go would have filled its struct.
pub(crate) fn normalize(
    body: &[u8],
    fields: &'static [(&'static str, Shape)],
) -> Result<Value, serde_json::Error> {
    let ordered: Ordered = serde_json::from_slice(body)?;
    Ok(object(ordered, fields))
}

fn plain(value: Ordered) -> Value {
    match value {
        Ordered::Null => Value::Null,
        Ordered::Scalar(value) => value,
        Ordered::Array(items) => Value::Array(items.into_iter().map(plain).collect()),
        // Last duplicate wins, as `Map::insert` overwrites.
        Ordered::Object(entries) => {
            Value::Object(entries.into_iter().map(|(key, value)| (key, plain(value))).collect())
        }
    }
}

/// An object of `fields`; anything else is left for serde to refuse with its type error.
fn object(value: Ordered, fields: &'static [(&'static str, Shape)]) -> Value {
    let Ordered::Object(entries) = value else { return plain(value) };
    let mut out = Map::new();
    for (key, value) in entries {
        let field = fields
            .iter()
            .find(|(name, _)| *name == key)
            .or_else(|| fields.iter().find(|(name, _)| name.eq_ignore_ascii_case(&key)));
        let Some((name, shape)) = field else { continue };
        if matches!(value, Ordered::Null) {
            // Go leaves the field as it was: its zero value, or what an earlier key set.
            continue;
        }
        let value = match (shape, value) {
            (Shape::StringMap, Ordered::Object(entries)) => Value::Object(
                entries
                    .into_iter()
                    .map(|(key, value)| match value {
                        Ordered::Null => (key, Value::String(String::new())),
                        value => (key, plain(value)),
                    })
                    .collect(),
            ),
            (Shape::ObjectList(fields), Ordered::Array(items)) => Value::Array(
                items
                    .into_iter()
                    .map(|item| match item {
                        Ordered::Null => Value::Object(Map::new()),
                        item => object(item, fields),
                    })
                    .collect(),
            ),
            (_, value) => plain(value),
        };
        out.insert((*name).to_owned(), value);
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const ITEM: &[(&str, Shape)] = &[("status", Shape::Plain), ("labels", Shape::StringMap)];
    const TOP: &[(&str, Shape)] = &[
        ("status", Shape::Plain),
        ("commonLabels", Shape::StringMap),
        ("alerts", Shape::ObjectList(ITEM)),
    ];

    fn go(body: &str) -> Value {
        normalize(body.as_bytes(), TOP).unwrap()
    }

    #[test]
    fn keys_fold_case_and_the_last_one_wins() {
        assert_eq!(go(r#"{"STATUS": "firing"}"#), json!({"status": "firing"}));
        assert_eq!(
            go(r#"{"status": "firing", "Status": "resolved"}"#),
            json!({"status": "resolved"})
        );
        assert_eq!(
            go(r#"{"Status": "resolved", "status": "firing"}"#),
            json!({"status": "firing"})
        );
        assert_eq!(
            go(r#"{"commonlabels": {"a": "1", "a": "2", "A": "3"}}"#),
            json!({"commonLabels": {"a": "2", "A": "3"}}),
            "map keys keep their case"
        );
    }

    #[test]
    fn null_is_the_zero_value_and_unknown_keys_go() {
        assert_eq!(go(r#"{"status": "firing", "status": null}"#), json!({"status": "firing"}));
        assert_eq!(go(r#"{"commonLabels": null, "alerts": null, "extra": {"x": 1}}"#), json!({}));
        assert_eq!(go(r#"{"commonLabels": {"a": null}}"#), json!({"commonLabels": {"a": ""}}));
        assert_eq!(
            go(r#"{"alerts": [null, {"Labels": {"b": "2"}, "other": 1}]}"#),
            json!({"alerts": [{}, {"labels": {"b": "2"}}]})
        );
    }

    #[test]
    fn wrong_types_are_left_for_serde_to_refuse() {
        assert_eq!(go(r#"{"alerts": "many"}"#), json!({"alerts": "many"}));
        assert!(normalize(b"{", TOP).is_err());
    }
}
