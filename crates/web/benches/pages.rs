//! The rules list with 10,000 stored rules, as the server answers it (the router through
//! `tower::ServiceExt::oneshot`, no socket): a page of 50 without a search, with a text
//! search, and with a label and text search. Criterion reports the mean; a second pass of
//! 1,000 requests each prints p50, p99 and the page's weight, the figures the UI promises
//! (under 30 ms at p99, under 100 KB).
//!
//! Run with: `cargo bench -p promrules-web`; figures in docs/benchmarks.md.

use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::http::Request;
use criterion::{Criterion, criterion_group, criterion_main};
use http_body_util::BodyExt;
use promrules_api::{AppState, Config};
use promrules_model::{GroupSpec, GroupedRules, ImportOptions, RuleSpec, Store};
use tower::ServiceExt;

const RULES: usize = 10_000;
const PAGES: [(&str, &str); 3] = [
    ("rules_list/page_of_50", "/ui/rules?page=7"),
    ("rules_list/text_search", "/ui/rules?q=node_load1"),
    ("rules_list/label_and_text", "/ui/rules?q=team%3Dstorage+disk&sort=name"),
];

/// 10,000 alerts in 50 groups, with labels and annotations like real ones.
fn fixture() -> (tempfile::TempDir, Router, String) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("bench.db").display().to_string()).unwrap();
    let teams = ["ops", "storage", "network", "db"];
    let groups: Vec<GroupedRules> = (0..50)
        .map(|g| GroupedRules {
            group: GroupSpec {
                interval: Some("30s".into()),
                ..GroupSpec::named(format!("group{g}"))
            },
            rules: (0..RULES / 50)
                .map(|r| {
                    let i = g * (RULES / 50) + r;
                    let metric = if i.is_multiple_of(2) {
                        format!("node_load{}", i % 15)
                    } else {
                        format!("disk_used_ratio{}", i % 7)
                    };
                    let mut spec = RuleSpec {
                        name: Some(format!("Alert{i:05}")),
                        for_duration: Some("5m".into()),
                        summary: format!("{{{{ $labels.instance }}}} breached {metric}"),
                        description: "See the runbook before acting.".into(),
                        ..RuleSpec::alert(format!("{metric}{{job=\"node\"}} > {}", i % 100))
                    };
                    spec.labels.insert("team".into(), teams[i % 4].into());
                    spec.annotations
                        .insert("runbook".into(), format!("https://runbooks.example/{i}"));
                    spec
                })
                .collect(),
        })
        .collect();
    store.import(&groups, ImportOptions::default()).unwrap();
    let config = Config { ssh_control_dir: dir.path().to_owned(), ..Config::default() };
    let state = AppState::new(store, config);
    let web = promrules_web::router(state.clone(), promrules_web::WebConfig::default());
    let router = promrules_api::router(state).merge(web);
    // One session for every request, as one browser.
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let cookie = runtime.block_on(async {
        let request = Request::get("/ui/rules").body(Body::empty()).unwrap();
        let response = router.clone().oneshot(request).await.unwrap();
        let cookie = response.headers()["set-cookie"].to_str().unwrap();
        cookie.split(';').next().unwrap().to_owned()
    });
    (dir, router, cookie)
}

async fn get(router: &Router, cookie: &str, path: &str) -> usize {
    let request = Request::get(path).header("cookie", cookie).body(Body::empty()).unwrap();
    let response = router.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), 200, "{path}");
    response.into_body().collect().await.unwrap().to_bytes().len()
}

fn bench_pages(c: &mut Criterion) {
    let (_dir, router, cookie) = fixture();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    for (name, path) in PAGES {
        c.bench_function(name, |b| b.to_async(&runtime).iter(|| get(&router, &cookie, path)));
    }
    for (name, path) in PAGES {
        let mut times: Vec<Duration> = Vec::with_capacity(1_000);
        let mut bytes = 0;
        runtime.block_on(async {
            for _ in 0..1_000 {
                let start = Instant::now();
                bytes = get(&router, &cookie, path).await;
                times.push(start.elapsed());
            }
        });
        times.sort();
        let at = |q: f64| times[((times.len() as f64 * q) as usize).min(times.len() - 1)];
        #[allow(clippy::print_stdout)]
        {
            println!(
                "{name}: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms, {:.1} KB ({RULES} rules stored)",
                at(0.50).as_secs_f64() * 1e3,
                at(0.99).as_secs_f64() * 1e3,
                times[times.len() - 1].as_secs_f64() * 1e3,
                bytes as f64 / 1024.0,
            );
        }
    }
}

criterion_group!(benches, bench_pages);
criterion_main!(benches);
