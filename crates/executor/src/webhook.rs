//! The Alertmanager webhook message (version 4), and the pure decisions made from it:
//! which commands match, which fingerprint tracks them, and their exact environment.
//!
//! Parsing is lenient where Alertmanager and the original are (Go's `encoding/json`:
//! missing or `null` fields take their zero values, keys match case-insensitively, the last
//! duplicate wins, unknown fields are ignored; see `go_json`) and strict where the original answered 500 and
//! got retried forever: wrong types, unparsable times, an unknown `status`, and NUL bytes,
//! which no environment variable can hold, are errors naming the problem.

use std::collections::BTreeMap;

use chrono::{DateTime, FixedOffset};
use serde::Deserialize;

use crate::config::CommandConfig;
use crate::error::WebhookError;
use crate::go_json::{self, Shape};

/// Whether a message reports firing or resolved alerts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Firing,
    Resolved,
}

/// A webhook message, as Alertmanager sends it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Message {
    #[serde(default)]
    pub version: String,
    #[serde(default)]
    pub group_key: String,
    #[serde(default)]
    pub truncated_alerts: u64,
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub receiver: String,
    #[serde(default)]
    pub group_labels: BTreeMap<String, String>,
    #[serde(default)]
    pub common_labels: BTreeMap<String, String>,
    #[serde(default)]
    pub common_annotations: BTreeMap<String, String>,
    #[serde(default, rename = "externalURL")]
    pub external_url: String,
    #[serde(default)]
    pub alerts: Vec<Alert>,
    /// The request body as received (for `payload_file`).
    #[serde(skip)]
    pub body: Vec<u8>,
}

/// One alert of a message.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Alert {
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    #[serde(default, deserialize_with = "go_time")]
    pub starts_at: Option<DateTime<FixedOffset>>,
    #[serde(default, deserialize_with = "go_time")]
    pub ends_at: Option<DateTime<FixedOffset>>,
    #[serde(default, rename = "generatorURL")]
    pub generator_url: String,
    #[serde(default)]
    pub fingerprint: String,
}

/// The message's fields and shapes, for Go's leniency ([`go_json`]).
const MESSAGE_FIELDS: &[(&str, Shape)] = &[
    ("version", Shape::Plain),
    ("groupKey", Shape::Plain),
    ("truncatedAlerts", Shape::Plain),
    ("status", Shape::Plain),
    ("receiver", Shape::Plain),
    ("groupLabels", Shape::StringMap),
    ("commonLabels", Shape::StringMap),
    ("commonAnnotations", Shape::StringMap),
    ("externalURL", Shape::Plain),
    ("alerts", Shape::ObjectList(ALERT_FIELDS)),
];

const ALERT_FIELDS: &[(&str, Shape)] = &[
    ("status", Shape::Plain),
    ("labels", Shape::StringMap),
    ("annotations", Shape::StringMap),
    ("startsAt", Shape::Plain),
    ("endsAt", Shape::Plain),
    ("generatorURL", Shape::Plain),
    ("fingerprint", Shape::Plain),
];

/// Go's zero time, `0001-01-01T00:00:00Z`, which Alertmanager sends for "no end".
const GO_ZERO_TIME_UNIX: i64 = -62_135_596_800;

/// An RFC 3339 time as Go writes it; `None` stands for Go's zero time.
fn go_time<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<DateTime<FixedOffset>>, D::Error> {
    let text = String::deserialize(deserializer)?;
    let time = DateTime::parse_from_rfc3339(&text).map_err(|error| {
        serde::de::Error::custom(format!("`{text}` is not an RFC 3339 time: {error}"))
    })?;
    Ok((time.timestamp() != GO_ZERO_TIME_UNIX || time.timestamp_subsec_nanos() != 0)
        .then_some(time))
}

impl Message {
    /// Parses and checks a request body.
    pub fn parse(body: &[u8]) -> Result<Message, WebhookError> {
        if body.iter().all(u8::is_ascii_whitespace) {
            return Err(WebhookError::Invalid("the request body is empty".to_owned()));
        }
        let value = go_json::normalize(body, MESSAGE_FIELDS).map_err(|error| {
            WebhookError::Invalid(format!("the request body is not valid JSON: {error}"))
        })?;
        let mut message = Message::deserialize(value).map_err(|error| {
            WebhookError::Invalid(format!("the request body has the wrong shape: {error}"))
        })?;
        message.body = body.to_vec();
        message.status()?;
        message.check_no_nul()?;
        Ok(message)
    }

    /// The message's status.
    pub fn status(&self) -> Result<Status, WebhookError> {
        match self.status.as_str() {
            "firing" => Ok(Status::Firing),
            "resolved" => Ok(Status::Resolved),
            other => Err(WebhookError::Invalid(format!(
                "unknown status `{other}` (expected `firing` or `resolved`)"
            ))),
        }
    }

    fn check_no_nul(&self) -> Result<(), WebhookError> {
        let maps = [
            ("commonLabels", &self.common_labels),
            ("groupLabels", &self.group_labels),
            ("commonAnnotations", &self.common_annotations),
        ];
        let mut texts: Vec<(String, &str)> = vec![
            ("receiver".into(), &self.receiver),
            ("status".into(), &self.status),
            ("externalURL".into(), &self.external_url),
        ];
        for (name, map) in maps {
            for (key, value) in map {
                texts.push((format!("{name} name"), key));
                texts.push((format!("{name}.{key}"), value));
            }
        }
        for (index, alert) in self.alerts.iter().enumerate() {
            for (name, map) in [("labels", &alert.labels), ("annotations", &alert.annotations)] {
                for (key, value) in map {
                    texts.push((format!("alerts[{index}].{name} name"), key));
                    texts.push((format!("alerts[{index}].{name}.{key}"), value));
                }
            }
            texts.push((format!("alerts[{index}].status"), &alert.status));
            texts.push((format!("alerts[{index}].generatorURL"), &alert.generator_url));
            texts.push((format!("alerts[{index}].fingerprint"), &alert.fingerprint));
        }
        match texts.iter().find(|(_, text)| text.contains('\0')) {
            Some((field, _)) => {
                Err(WebhookError::Invalid(format!("`{field}` contains a NUL byte")))
            }
            None => Ok(()),
        }
    }
}

/// Whether `command` runs for `message`: every `match_labels` pair is in `commonLabels`
/// with the same, case-sensitive value (no `match_labels` matches everything).
pub fn matches(command: &CommandConfig, message: &Message) -> bool {
    command.match_labels.iter().all(|(name, value)| message.common_labels.get(name) == Some(value))
}

/// The fingerprint that tracks `command` for `max` and resolve signals: that of the first
/// alert (in payload order) whose own labels hold all of its `match_labels`. `None` when
/// there is no such alert or its fingerprint is empty: the command is then untracked.
pub fn fingerprint<'a>(command: &CommandConfig, message: &'a Message) -> Option<&'a str> {
    message
        .alerts
        .iter()
        .find(|alert| {
            command.match_labels.iter().all(|(name, value)| alert.labels.get(name) == Some(value))
        })
        .map(|alert| alert.fingerprint.as_str())
        .filter(|fingerprint| !fingerprint.is_empty())
}

/// The `AMX_*` variables for `message`, exactly as prometheus-am-executor sets them:
/// names and values unchanged, alerts numbered from 1 in payload order, times in Unix
/// seconds (floored; `END=0` for Go's zero time).
pub fn environment(message: &Message) -> Vec<(String, String)> {
    let (mut env, alerts) = environment_parts(message);
    env.extend(alerts.into_iter().flatten());
    env
}

/// Environment entries, `(name, value)`.
pub(crate) type Env = Vec<(String, String)>;

/// [`environment`] in parts: the message's own variables, then each alert's, so that a
/// command can be given only the alerts that fit the kernel's limit.
pub(crate) fn environment_parts(message: &Message) -> (Env, Vec<Env>) {
    let mut env = vec![
        ("AMX_RECEIVER".to_owned(), message.receiver.clone()),
        ("AMX_STATUS".to_owned(), message.status.clone()),
        ("AMX_EXTERNAL_URL".to_owned(), message.external_url.clone()),
        ("AMX_ALERT_LEN".to_owned(), message.alerts.len().to_string()),
    ];
    let prefixed =
        |env: &mut Vec<(String, String)>, prefix: &str, map: &BTreeMap<String, String>| {
            env.extend(map.iter().map(|(name, value)| (format!("{prefix}{name}"), value.clone())));
        };
    prefixed(&mut env, "AMX_LABEL_", &message.common_labels);
    prefixed(&mut env, "AMX_GLABEL_", &message.group_labels);
    prefixed(&mut env, "AMX_ANNOTATION_", &message.common_annotations);
    let alerts = message
        .alerts
        .iter()
        .enumerate()
        .map(|(index, alert)| {
            let prefix = format!("AMX_ALERT_{}", index + 1);
            let mut env = vec![
                (format!("{prefix}_STATUS"), alert.status.clone()),
                (
                    format!("{prefix}_START"),
                    alert.starts_at.map_or(GO_ZERO_TIME_UNIX, |t| t.timestamp()).to_string(),
                ),
                (format!("{prefix}_END"), alert.ends_at.map_or(0, |t| t.timestamp()).to_string()),
                (format!("{prefix}_URL"), alert.generator_url.clone()),
                (format!("{prefix}_FINGERPRINT"), alert.fingerprint.clone()),
            ];
            prefixed(&mut env, &format!("{prefix}_LABEL_"), &alert.labels);
            prefixed(&mut env, &format!("{prefix}_ANNOTATION_"), &alert.annotations);
            env
        })
        .collect();
    (env, alerts)
}

/// What makes two notifications the same one, for `dedup_window`: the receiver, the group
/// key, the status, and each alert's fingerprint and start (in any order). Two
/// Alertmanagers that are not clustered send the same key for one Prometheus alert.
pub fn notification_key(message: &Message) -> String {
    let mut alerts: Vec<String> = message
        .alerts
        .iter()
        .map(|alert| {
            let start = alert.starts_at.map_or(GO_ZERO_TIME_UNIX, |t| t.timestamp_micros());
            format!("{}@{start}", alert.fingerprint)
        })
        .collect();
    alerts.sort();
    format!(
        "{}\u{0}{}\u{0}{}\u{0}{}",
        message.receiver,
        message.group_key,
        message.status,
        alerts.join(",")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn command(match_labels: &[(&str, &str)]) -> CommandConfig {
        let mut config = Config::default();
        config.add_command_line(&["/bin/true".to_owned()]);
        let mut command = config.commands.remove(0);
        command.match_labels =
            match_labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        command
    }

    fn message(json: &str) -> Message {
        Message::parse(json.as_bytes()).unwrap()
    }

    #[test]
    fn matching_uses_common_labels_only() {
        let m = message(
            r#"{"status":"firing","commonLabels":{"alertname":"Disk","team":"ops"},"alerts":[{"labels":{"alertname":"Disk","team":"ops","host":"a"}}]}"#,
        );
        let cases: &[(&[(&str, &str)], bool)] = &[
            (&[], true),
            (&[("alertname", "Disk")], true),
            (&[("alertname", "Disk"), ("team", "ops")], true),
            (&[("alertname", "disk")], false),
            (&[("host", "a")], false),
            (&[("missing", "")], false),
        ];
        for (labels, expected) in cases {
            assert_eq!(matches(&command(labels), &m), *expected, "{labels:?}");
        }
        let empty = message(r#"{"status":"firing","alerts":[]}"#);
        assert!(matches(&command(&[]), &empty), "no match_labels matches even zero alerts");
    }

    #[test]
    fn fingerprint_is_the_first_alert_whose_labels_match() {
        let m = message(
            r#"{"status":"firing","commonLabels":{"job":"x"},"alerts":[
            {"labels":{"job":"x","host":"a"},"fingerprint":"fa"},
            {"labels":{"job":"x","host":"b"},"fingerprint":"fb"},
            {"labels":{"job":"x","host":"c"},"fingerprint":""}]}"#,
        );
        assert_eq!(fingerprint(&command(&[]), &m), Some("fa"));
        assert_eq!(fingerprint(&command(&[("host", "b")]), &m), Some("fb"));
        assert_eq!(
            fingerprint(&command(&[("host", "c")]), &m),
            None,
            "an empty fingerprint is untracked"
        );
        assert_eq!(fingerprint(&command(&[("host", "z")]), &m), None);
    }

    #[test]
    fn environment_passes_names_and_values_unchanged() {
        let m = message(
            r#"{"status":"firing","receiver":"r","commonLabels":{"k8s.io/part-of":"x","ünï":"ç","a=b":"c=d","nl":"line1\nline2","empty":""},
            "alerts":[{"status":"firing","labels":{"x":"1"},"annotations":{"summary":"s"},
            "startsAt":"1969-12-31T23:59:59.5Z","endsAt":"0001-01-01T00:00:00Z","generatorURL":"u","fingerprint":"f"},
            {"status":"resolved","startsAt":"2016-04-07T10:08:52-06:00","endsAt":"2016-04-07T10:09:00.999-06:00"}]}"#,
        );
        let env: BTreeMap<String, String> = environment(&m).into_iter().collect();
        assert_eq!(env["AMX_LABEL_k8s.io/part-of"], "x");
        assert_eq!(env["AMX_LABEL_ünï"], "ç");
        assert_eq!(env["AMX_LABEL_a=b"], "c=d");
        assert_eq!(env["AMX_LABEL_nl"], "line1\nline2");
        assert_eq!(env["AMX_LABEL_empty"], "");
        assert_eq!(env["AMX_ALERT_1_START"], "-1", "floored before 1970");
        assert_eq!(env["AMX_ALERT_1_END"], "0", "Go's zero time");
        assert_eq!(env["AMX_ALERT_1_ANNOTATION_summary"], "s");
        assert_eq!(env["AMX_ALERT_2_START"], "1460045332");
        assert_eq!(env["AMX_ALERT_2_END"], "1460045340");
        assert_eq!(env["AMX_ALERT_2_FINGERPRINT"], "");
        assert_eq!(env["AMX_ALERT_LEN"], "2");
    }

    #[test]
    fn bad_messages_are_named() {
        let cases = [
            ("", "empty"),
            ("{", "not valid JSON"),
            (r#"{"status":"firing","alerts":{}}"#, "wrong shape"),
            (r#"{"status":"firing","commonLabels":{"a":1}}"#, "wrong shape"),
            (
                r#"{"status":"firing","alerts":[{"startsAt":"yesterday"}]}"#,
                "`yesterday` is not an RFC 3339 time",
            ),
            (r#"{"status":"pending"}"#, "unknown status `pending`"),
            (r#"{"alerts":[]}"#, "unknown status ``"),
            (
                r#"{"status":"firing","commonLabels":{"a":"x\u0000y"}}"#,
                "`commonLabels.a` contains a NUL byte",
            ),
            (
                r#"{"status":"firing","alerts":[{"labels":{"a\u0000":"x"}}]}"#,
                "`alerts[0].labels name` contains a NUL byte",
            ),
        ];
        for (body, expected) in cases {
            let error = Message::parse(body.as_bytes()).unwrap_err().to_string();
            assert!(error.contains(expected), "{body}: {error}");
        }
    }
}
