//! The one logger setup of promrules' binaries: `-v` counts to a level (`RUST_LOG`
//! overrides), human lines by default or one JSON object per line (`--log-format json`:
//! `time`, `level`, `target`, `message` and the record's key-values, such as `host`,
//! `rule`, `deployment` and `actor`).
//!
//! Whatever the level, secrets never reach the output. The HTTP client (ureq) hex-dumps
//! every byte it sends and receives at trace level, `Authorization` headers included, 16
//! bytes to a line; those dumps (target `ureq_proto::util`) are dropped. Every other
//! message passes [`redact`], which masks `Authorization` header values and `password=`
//! parameters, before it is formatted.

use std::fmt;
use std::io::Write;
use std::str::FromStr;

use log::{Log, Metadata, Record};

/// How log lines look.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Format {
    /// env_logger's human lines.
    #[default]
    Human,
    /// One JSON object per line.
    Json,
}

impl FromStr for Format {
    type Err = String;

    fn from_str(text: &str) -> Result<Format, String> {
        match text {
            "human" => Ok(Format::Human),
            "json" => Ok(Format::Json),
            _ => Err(format!("`{text}` is not a log format: human or json")),
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Format::Human => "human",
            Format::Json => "json",
        })
    }
}

/// The filter `-v` flags ask for: none is info; one adds promrules' own debug lines (every
/// `promrules_*` crate and the `am_executor` binary), its dependencies staying at info;
/// two or more is trace for everything, dependencies included.
pub fn level(verbosity: u8) -> &'static str {
    match verbosity {
        0 => "info",
        1 => "info,promrules=debug,am_executor=debug",
        _ => "trace",
    }
}

/// Installs the logger: `default_level` unless `RUST_LOG` says otherwise, in `format`,
/// redacting secrets. Call once, first thing in `main`.
pub fn init(default_level: &str, format: Format) {
    let mut builder =
        env_logger::Builder::from_env(env_logger::Env::default().default_filter_or(default_level));
    if format == Format::Json {
        builder.format(|out, record| {
            let mut line = serde_json::Map::new();
            line.insert("time".into(), chrono::Utc::now().to_rfc3339().into());
            line.insert("level".into(), record.level().as_str().into());
            line.insert("target".into(), record.target().into());
            line.insert("message".into(), record.args().to_string().into());
            let mut fields = Fields(&mut line);
            let _ = record.key_values().visit(&mut fields);
            writeln!(out, "{}", serde_json::Value::Object(line))
        });
    }
    let inner = builder.build();
    let max = inner.filter();
    if log::set_boxed_logger(Box::new(Redacting { inner })).is_ok() {
        log::set_max_level(max);
    }
}

/// Copies a record's key-values into the JSON line.
struct Fields<'a>(&'a mut serde_json::Map<String, serde_json::Value>);

impl<'kvs> log::kv::VisitSource<'kvs> for Fields<'_> {
    fn visit_pair(
        &mut self,
        key: log::kv::Key<'kvs>,
        value: log::kv::Value<'kvs>,
    ) -> Result<(), log::kv::Error> {
        let value = match value.to_i64() {
            Some(number) => number.into(),
            None => redact(&value.to_string()).into(),
        };
        self.0.insert(key.as_str().to_owned(), value);
        Ok(())
    }
}

/// Passes records on with their message redacted.
struct Redacting {
    inner: env_logger::Logger,
}

impl Log for Redacting {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        self.inner.enabled(metadata)
    }

    fn log(&self, record: &Record<'_>) {
        if !self.inner.matches(record) || is_wire_dump(record.metadata()) {
            return;
        }
        // Formatted once; the inner logger then copies the redacted text.
        let redacted = redact(&record.args().to_string());
        self.inner.log(
            &Record::builder()
                .args(format_args!("{redacted}"))
                .metadata(record.metadata().clone())
                .module_path(record.module_path())
                .file(record.file())
                .line(record.line())
                .key_values(record.key_values())
                .build(),
        );
    }

    fn flush(&self) {
        self.inner.flush();
    }
}

/// The HTTP client's dumps of raw request and response bytes, headers and all.
fn is_wire_dump(metadata: &Metadata<'_>) -> bool {
    metadata.level() == log::Level::Trace && metadata.target().starts_with("ureq_proto::util")
}

/// The secret-bearing keys whose values are masked, matched without regard to case.
const SECRET_KEYS: &[&str] = &["authorization", "password=", "password:", "bearer_token"];

/// `text` with the value after each secret-bearing key replaced by `***`: `Authorization:
/// Bearer abc`, `"authorization": "Basic …"`, `password=…`. A value ends at a quote, a
/// comma, a closing brace or bracket, or the end of the line.
pub fn redact(text: &str) -> String {
    let lower = text.to_ascii_lowercase();
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut at = 0;
    while let Some((start, key)) = SECRET_KEYS
        .iter()
        .filter_map(|key| lower[at..].find(key).map(|found| (at + found, key)))
        .min_by_key(|(found, _)| *found)
    {
        let bytes = text.as_bytes();
        // A longer name that starts with the key (`bearer_token_file`) holds no secret.
        let name_char = |b: &u8| b.is_ascii_alphanumeric() || *b == b'_';
        if key.as_bytes().last().is_some_and(name_char)
            && bytes.get(start + key.len()).is_some_and(name_char)
        {
            at = start + key.len();
            continue;
        }
        let mut value_start = start + key.len();
        while value_start < bytes.len() && b"\"': =\t".contains(&bytes[value_start]) {
            value_start += 1;
        }
        let value_end = text[value_start..]
            .find(['"', '\'', ',', '}', ']', '\r', '\n', '&'])
            .map_or(text.len(), |end| value_start + end);
        if value_end > value_start {
            out.push_str(&text[copied..value_start]);
            out.push_str("***");
            copied = value_end;
        }
        at = value_end.max(start + key.len());
    }
    out.push_str(&text[copied..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_masked_in_every_shape_the_http_client_prints() {
        for (text, secret) in [
            ("authorization: Bearer tok-123", "tok-123"),
            ("Authorization: Basic dXNlcjpwYXNz\r\nhost: x", "dXNlcjpwYXNz"),
            (r#"headers: {"authorization": "Bearer tok-456", "accept": "*/*"}"#, "tok-456"),
            ("Request { headers: {\"AUTHORIZATION\": \"Bearer tok-789\"} }", "tok-789"),
            ("host=db password=pw-1 dbname=x", "pw-1"),
            (r#"{"bearer_token": "tok-0"}"#, "tok-0"),
        ] {
            let redacted = redact(text);
            assert!(!redacted.contains(secret), "{text} -> {redacted}");
            assert!(redacted.contains("***"), "{redacted}");
        }
        let plain = "deployed to prom-eu-1 in 0.3 s";
        assert_eq!(redact(plain), plain);
        assert_eq!(redact("accept: */*\r\nhost: x"), "accept: */*\r\nhost: x");
        let path = "cannot use `webhook_auth.bearer_token_file` `/etc/token`: it is empty";
        assert_eq!(redact(path), path, "a key's longer name is not a secret");
        assert_eq!(redact(r#"{"bearer_token": "abc"}"#), r#"{"bearer_token": "***"}"#);
        let both = redact("authorization: Bearer a\nauthorization: Bearer b\nrest");
        assert_eq!(both, "authorization: ***\nauthorization: ***\nrest");
    }

    #[test]
    fn formats_and_levels() {
        assert_eq!("json".parse(), Ok(Format::Json));
        assert_eq!("human".parse(), Ok(Format::Human));
        assert!("xml".parse::<Format>().is_err());
        assert_eq!((level(0), level(5)), ("info", "trace"));
        assert_eq!(level(1), "info,promrules=debug,am_executor=debug");
    }
}
