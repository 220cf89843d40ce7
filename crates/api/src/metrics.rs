//! The server's own metrics, on `/metrics` in the Prometheus text format.
//!
//! - `promrules_http_requests_total{method, route, status}`: requests answered;
//! - `promrules_http_request_duration_seconds{method, route}`: how long they took;
//! - `promrules_rules{kind}`: stored rules by kind, counted when scraped;
//! - `promrules_targets{kind}`: stored shards, services, farms, hosts, projects and
//!   exporters, counted when scraped;
//! - the deploy metrics of the server's `Rollout` (`promrules_deploys_total{host, outcome}`,
//!   `promrules_deploy_last_success_timestamp_seconds{host}`, …; see
//!   `promrules_rollout::DeployMetrics`).
//!
//! Routes are the matched patterns (`/api/v1/rules/{id}`), never raw paths, so ids and
//! probes for unknown paths cannot blow up the label space.

use std::sync::Mutex;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::AppState;
use crate::error::ApiError;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: String,
    route: String,
    status: u16,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: String,
    route: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabels {
    kind: &'static str,
}

/// The registry and the metrics in it.
#[derive(Debug)]
pub struct Metrics {
    registry: Mutex<Registry>,
    requests: Family<RequestLabels, Counter>,
    durations: Family<RouteLabels, Histogram>,
    rules: Family<KindLabels, Gauge>,
    targets: Family<KindLabels, Gauge>,
}

impl Metrics {
    /// The server's metrics, and the deploy metrics of `rollout` in the same registry.
    pub(crate) fn new(rollout: &promrules_rollout::Rollout) -> Metrics {
        let requests = Family::<RequestLabels, Counter>::default();
        let durations = Family::<RouteLabels, Histogram>::new_with_constructor(|| {
            // 0.25 ms to about 8 s.
            Histogram::new(exponential_buckets(0.000_25, 2.0, 16))
        });
        let rules = Family::<KindLabels, Gauge>::default();
        let targets = Family::<KindLabels, Gauge>::default();
        let mut registry = Registry::with_prefix("promrules");
        registry.register("http_requests", "HTTP requests answered", requests.clone());
        registry.register(
            "http_request_duration_seconds",
            "Time to answer HTTP requests",
            durations.clone(),
        );
        registry.register("rules", "Stored rules by kind", rules.clone());
        registry.register("targets", "Stored target-model entities by kind", targets.clone());
        rollout.metrics().register(&mut registry);
        Metrics { registry: Mutex::new(registry), requests, durations, rules, targets }
    }

    fn observe(&self, method: &str, route: &str, status: u16, seconds: f64) {
        let (method, route) = (method.to_owned(), route.to_owned());
        self.requests
            .get_or_create(&RequestLabels { method: method.clone(), route: route.clone(), status })
            .inc();
        self.durations.get_or_create(&RouteLabels { method, route }).observe(seconds);
    }
}

/// A method as a label value: the standard ones by name, anything a client invents as
/// `other`, so requests cannot grow the metrics without bound.
fn method_label(method: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    const KNOWN: [Method; 9] = [
        Method::GET,
        Method::HEAD,
        Method::POST,
        Method::PUT,
        Method::PATCH,
        Method::DELETE,
        Method::OPTIONS,
        Method::CONNECT,
        Method::TRACE,
    ];
    KNOWN.iter().find(|known| *known == method).map_or("other", Method::as_str)
}

/// Counts and times every request, and logs it at debug level.
pub(crate) async fn observe(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str)
        .to_owned();
    let response = next.run(request).await;
    let elapsed = started.elapsed();
    let status = response.status().as_u16();
    state.metrics.observe(method_label(&method), &route, status, elapsed.as_secs_f64());
    log::debug!("{method} {path} {status} {:.3} ms", elapsed.as_secs_f64() * 1e3);
    response
}

pub(crate) async fn serve(State(state): State<AppState>) -> Result<Response, ApiError> {
    let (rules, targets) =
        state.store(|store| Ok((store.count_rules_by_kind()?, store.count_targets()?))).await?;
    for (kind, count) in rules {
        state.metrics.rules.get_or_create(&KindLabels { kind: kind.as_str() }).set(count);
    }
    for (kind, count) in targets {
        state.metrics.targets.get_or_create(&KindLabels { kind }).set(count);
    }
    let mut text = String::new();
    let registry = state
        .metrics
        .registry
        .lock()
        .map_err(|_| ApiError::internal("metrics registry poisoned"))?;
    prometheus_client::encoding::text::encode(&mut text, &registry)
        .map_err(|error| ApiError::internal(format!("encoding metrics failed: {error}")))?;
    Ok((
        [(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")],
        text,
    )
        .into_response())
}
