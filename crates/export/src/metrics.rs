//! The metrics of a long-running export (`--watch`) or `reload-on-change`, served on
//! `--metrics-listen` for the Prometheus it feeds:
//!
//! - `promrules_export_rounds_total{outcome}`: rounds by what they did (`unchanged`,
//!   `written`, `reloaded`, `reload_retried`, `known_bad`, `failed`);
//! - `promrules_export_failures_total`: rounds that failed (fetch, check, write or reload);
//! - `promrules_export_reloads_total{result}`: reloads, `ok` or `failed` (one per round or
//!   change, however many `--reload` servers it reloaded);
//! - `promrules_export_last_success_timestamp_seconds`: when a round last ended without an
//!   error (for `reload-on-change`: when a reload last succeeded).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::{ExportError, Outcome};

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabels {
    result: &'static str,
}

/// The export's metrics; cheap to clone, shared with the thread that serves them.
#[derive(Debug, Clone)]
pub struct ExportMetrics {
    registry: Arc<Mutex<Registry>>,
    rounds: Family<OutcomeLabels, Counter>,
    failures: Counter,
    reloads: Family<ResultLabels, Counter>,
    last_success: Gauge,
}

impl Default for ExportMetrics {
    fn default() -> ExportMetrics {
        let rounds = Family::<OutcomeLabels, Counter>::default();
        let failures = Counter::default();
        let reloads = Family::<ResultLabels, Counter>::default();
        let last_success = Gauge::default();
        let mut registry = Registry::with_prefix("promrules_export");
        registry.register("rounds", "Export rounds by what they did", rounds.clone());
        registry.register("failures", "Export rounds that failed", failures.clone());
        registry.register("reloads", "Prometheus reloads by result", reloads.clone());
        registry.register(
            "last_success_timestamp_seconds",
            "When a round last ended without an error",
            last_success.clone(),
        );
        // Every series exists from the start, so `increase()` sees the first one.
        for result in ["ok", "failed"] {
            let _ = reloads.get_or_create(&ResultLabels { result });
        }
        let _ = rounds.get_or_create(&OutcomeLabels { outcome: "failed" });
        ExportMetrics {
            registry: Arc::new(Mutex::new(registry)),
            rounds,
            failures,
            reloads,
            last_success,
        }
    }
}

fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

impl ExportMetrics {
    /// Counts one round of an export.
    pub fn round(&self, result: &Result<Outcome, ExportError>) {
        let outcome = match result {
            Ok(Outcome::Unchanged) => "unchanged",
            Ok(Outcome::Written) => "written",
            Ok(Outcome::Reloaded) => "reloaded",
            Ok(Outcome::ReloadRetried) => "reload_retried",
            Ok(Outcome::KnownBad) => "known_bad",
            Err(_) => "failed",
        };
        self.rounds.get_or_create(&OutcomeLabels { outcome }).inc();
        match result {
            Ok(Outcome::Reloaded | Outcome::ReloadRetried) => self.reload(true),
            Err(ExportError::Reload { .. } | ExportError::RolledBack { .. }) => self.reload(false),
            _ => {}
        }
        if result.is_ok() {
            self.last_success.set(now());
        } else {
            self.failures.inc();
        }
    }

    /// Counts one reload of Prometheus; a successful one is a success of the program.
    pub fn reload(&self, ok: bool) {
        let result = if ok { "ok" } else { "failed" };
        self.reloads.get_or_create(&ResultLabels { result }).inc();
        if ok {
            self.last_success.set(now());
        }
    }

    /// The metrics in Prometheus's text format.
    pub fn text(&self) -> String {
        let mut text = String::new();
        let registry = self.registry.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        // Writing to a String does not fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &registry);
        text
    }

    /// Serves `GET /metrics` on `address` from a thread of its own. Beyond loopback it
    /// needs `insecure` (the metrics have no authentication): anything else is refused
    /// before the program starts its work.
    pub fn serve(&self, address: SocketAddr, insecure: bool) -> Result<(), ExportError> {
        let refuse = |problem: String| ExportError::Metrics { address, problem };
        if !address.ip().is_loopback() && !insecure {
            return Err(refuse(
                "listening beyond loopback serves the metrics to anyone who reaches the port; pass --metrics-insecure to do it anyway".into(),
            ));
        }
        let server = tiny_http::Server::http(address).map_err(|e| refuse(e.to_string()))?;
        let metrics = self.clone();
        std::thread::Builder::new()
            .name("metrics".into())
            .spawn(move || {
                for request in server.incoming_requests() {
                    let response = if request.url() == "/metrics" {
                        let header = tiny_http::Header::from_bytes(
                            &b"Content-Type"[..],
                            &b"text/plain; version=0.0.4; charset=utf-8"[..],
                        )
                        .expect("a valid header");
                        tiny_http::Response::from_string(metrics.text()).with_header(header)
                    } else {
                        tiny_http::Response::from_string("only /metrics here\n")
                            .with_status_code(404)
                    };
                    let _ = request.respond(response);
                }
            })
            .map_err(|e| refuse(e.to_string()))?;
        log::info!("serving metrics on http://{address}/metrics");
        Ok(())
    }
}
