//! The REST API, driven without a socket through `oneshot`, on SQLite and PostgreSQL; and
//! over a real socket for concurrency.

use axum::http::StatusCode;
use promrules_api::Scope;
use serde_json::{Value, json};
use support::TestApp;

mod support;

test_support::on_both_backends!(async TestApp:
    rule_crud_round_trip,
    group_crud_and_conflicts,
    listing_filters_and_pages,
    invalid_payloads_get_their_status_and_change_nothing,
    original_pipeline_route_keeps_working,
    rendered_rule_file_and_etag,
    tokens_guard_mutations,
    health_and_metrics,
    deploy_through_the_api,
    target_model_crud_and_file_sd,
    every_rule_file_field_over_rest,
    history_and_restore_over_rest,
    import_over_rest,
    rule_unit_tests_over_rest,
    heal_runs_over_rest,
    slo_import_over_rest,
    slos_over_rest,
);

fn disk_rule() -> Value {
    json!({
        "name": "DiskFull",
        "expression": "node_filesystem_avail_bytes / node_filesystem_size_bytes < 0.05",
        "for": "5m",
        "severity": "critical",
        "summary": "Disk {{ $labels.device }} almost full",
        "heal_enabled": true,
        "labels": {"team": "storage"},
    })
}

/// A rule with a datasource only rules carry: the original pipeline's route writes free
/// ids (ours refuse one neither stored nor carried), then ours names it.
async fn rule_with_free_datasource(client: &support::Client, name: &str, datasource: i64) {
    let body = json!({"expression": "up == 0", "datasource_id": datasource});
    let (status, created) = client.post("/rules", &body).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let url = format!("/api/v1/rules/{}", created["id"]);
    let (status, named) = client.send("PATCH", &url, Some(&json!({"name": name}))).await;
    assert_eq!(status, StatusCode::OK, "{named}");
}

async fn rule_crud_round_trip(app: TestApp) {
    let client = app.client();
    let (status, created) = client.post("/api/v1/rules", &disk_rule()).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["id"].as_i64().unwrap();
    assert_eq!(created["name"], "DiskFull");
    assert_eq!(created["for"], "5m");
    assert_eq!(created["enabled"], true, "defaults are filled in");
    assert!(created["created_at"].is_string() && created["updated_at"].is_string());

    let (status, fetched) = client.get(&format!("/api/v1/rules/{id}")).await;
    assert_eq!((status, &fetched), (StatusCode::OK, &created));

    let replacement = json!({"name": "Renamed", "expression": "up == 0"});
    let (status, replaced) =
        client.send("PUT", &format!("/api/v1/rules/{id}"), Some(&replacement)).await;
    assert_eq!(status, StatusCode::OK, "{replaced}");
    assert_eq!(
        (replaced["name"].as_str(), replaced["for"].as_null(), replaced["heal_enabled"].as_bool()),
        (Some("Renamed"), Some(()), Some(false))
    );

    let (status, patched) = client
        .send("PATCH", &format!("/api/v1/rules/{id}"), Some(&json!({"for": "10m", "name": null})))
        .await;
    assert_eq!(status, StatusCode::OK, "{patched}");
    assert_eq!((patched["for"].as_str(), patched["name"].as_null()), (Some("10m"), Some(())));
    assert_eq!(patched["expression"], "up == 0", "PATCH keeps what it leaves out");

    let (status, _) = client.send("DELETE", &format!("/api/v1/rules/{id}"), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) = client.get(&format!("/api/v1/rules/{id}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"], format!("rule {id} not found"));
}

async fn group_crud_and_conflicts(app: TestApp) {
    let client = app.client();
    let (status, group) =
        client.post("/api/v1/groups", &json!({"name": "node", "interval": "30s"})).await;
    assert_eq!(status, StatusCode::CREATED, "{group}");
    let id = group["id"].as_i64().unwrap();

    let (status, body) = client.post("/api/v1/groups", &json!({"name": "node"})).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(body["error"].as_str().unwrap().contains("`node` already exists"), "{body}");

    let rule = json!({"expression": "up == 0", "group_id": id});
    assert_eq!(client.post("/api/v1/rules", &rule).await.0, StatusCode::CREATED);
    let (status, body) = client.send("DELETE", &format!("/api/v1/groups/{id}"), None).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(body["error"].as_str().unwrap().contains("still has 1 rule"), "{body}");
    assert_eq!(client.get(&format!("/api/v1/groups/{id}")).await.0, StatusCode::OK);

    let (status, patched) = client
        .send("PATCH", &format!("/api/v1/groups/{id}"), Some(&json!({"interval": null})))
        .await;
    assert_eq!((status, patched["interval"].clone()), (StatusCode::OK, Value::Null));
    let (status, put) =
        client.send("PUT", &format!("/api/v1/groups/{id}"), Some(&json!({"name": "nodes"}))).await;
    assert_eq!((status, put["name"].as_str()), (StatusCode::OK, Some("nodes")));

    let (status, list) = client.get("/api/v1/groups").await;
    assert_eq!((status, list["total"].as_i64()), (StatusCode::OK, Some(1)));
    assert_eq!(list["groups"][0]["name"], "nodes");
}

async fn listing_filters_and_pages(app: TestApp) {
    let client = app.client();
    for shard in ["ds-one", "ds-two", "ds-three"] {
        assert_eq!(
            client.post("/api/v1/shards", &json!({"name": shard})).await.0,
            StatusCode::CREATED
        );
    }
    for i in 0..12 {
        let rule = json!({"name": format!("R{i}"), "expression": "up", "datasource_id": i % 3 + 1, "heal_enabled": i < 5});
        assert_eq!(client.post("/api/v1/rules", &rule).await.0, StatusCode::CREATED);
    }
    let names = |body: &Value| -> Vec<String> {
        body["rules"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["name"].as_str().unwrap().to_owned())
            .collect()
    };
    let (_, body) = client.get("/api/v1/rules?datasource_id=2&heal_enabled=true").await;
    assert_eq!(names(&body), ["R1", "R4"]);
    assert_eq!(body["total"], 2);
    let (_, body) = client.get("/api/v1/rules?limit=5&offset=5").await;
    assert_eq!(names(&body), ["R5", "R6", "R7", "R8", "R9"]);
    assert_eq!(
        (body["total"].as_i64(), body["limit"].as_i64(), body["offset"].as_i64()),
        (Some(12), Some(5), Some(5))
    );
    let (_, body) = client.get("/api/v1/rules?kind=record").await;
    assert_eq!(body["total"], 0);

    for (query, field) in [
        ("limit=0", "limit"),
        ("limit=5000", "limit"),
        ("offset=-1", "offset"),
        ("kind=alarm", "kind"),
        ("enabled=maybe", "enabled"),
        ("datasource_id=x", "datasource_id"),
        ("colour=red", "colour"),
    ] {
        let (status, body) = client.get(&format!("/api/v1/rules?{query}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {body}");
        assert!(body["fields"].get(field).is_some(), "{query}: {body}");
    }
}

async fn invalid_payloads_get_their_status_and_change_nothing(app: TestApp) {
    let client = app.client();
    let (_, existing) = client.post("/api/v1/rules", &disk_rule()).await;
    let id = existing["id"].as_i64().unwrap();
    let (_, group) = client.post("/api/v1/groups", &json!({"name": "g"})).await;
    let rows_before = app.rule_count();

    // (what, method, path, content type, body, status, field named)
    type Case<'a> = (&'a str, &'a str, String, &'a str, String, StatusCode, Option<&'a str>);
    let huge = format!(r#"{{"expression": "up", "summary": "{}"}}"#, "x".repeat(2 * 1024 * 1024));
    let cases: Vec<Case> = vec![
        (
            "not JSON",
            "POST",
            "/api/v1/rules".into(),
            "application/json",
            "expression = up".into(),
            StatusCode::BAD_REQUEST,
            None,
        ),
        (
            "truncated JSON",
            "POST",
            "/api/v1/rules".into(),
            "application/json",
            r#"{"expression": "up""#.into(),
            StatusCode::BAD_REQUEST,
            None,
        ),
        (
            "empty body",
            "POST",
            "/api/v1/rules".into(),
            "application/json",
            String::new(),
            StatusCode::BAD_REQUEST,
            None,
        ),
        (
            "form content type",
            "POST",
            "/api/v1/rules".into(),
            "application/x-www-form-urlencoded",
            "expression=up".into(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            None,
        ),
        (
            "no content type",
            "POST",
            "/api/v1/rules".into(),
            "",
            r#"{"expression": "up"}"#.into(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            None,
        ),
        (
            "huge body",
            "POST",
            "/api/v1/rules".into(),
            "application/json",
            huge,
            StatusCode::PAYLOAD_TOO_LARGE,
            None,
        ),
        (
            "wrong type",
            "POST",
            "/api/v1/rules".into(),
            "application/json",
            r#"{"expression": 5}"#.into(),
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("expression"),
        ),
        (
            "wrong nested type",
            "POST",
            "/api/v1/rules".into(),
            "application/json",
            r#"{"expression": "up", "labels": {"a": 1}}"#.into(),
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("labels.a"),
        ),
        (
            "missing expression",
            "POST",
            "/api/v1/rules".into(),
            "application/json",
            r#"{"name": "X"}"#.into(),
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("expression"),
        ),
        (
            "unknown field",
            "POST",
            "/api/v1/rules".into(),
            "application/json",
            r#"{"expression": "up", "severty": "x"}"#.into(),
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("severty"),
        ),
        (
            "bad PromQL",
            "POST",
            "/api/v1/rules".into(),
            "application/json",
            r#"{"expression": "sum(rate(x[5m])"}"#.into(),
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("expression"),
        ),
        (
            "bad duration",
            "POST",
            "/api/v1/rules".into(),
            "application/json",
            r#"{"expression": "up", "for": "5 minutes"}"#.into(),
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("for"),
        ),
        (
            "reserved label",
            "POST",
            "/api/v1/rules".into(),
            "application/json",
            r#"{"expression": "up", "labels": {"__name__": "x"}}"#.into(),
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("labels.__name__"),
        ),
        (
            "bad PUT",
            "PUT",
            format!("/api/v1/rules/{id}"),
            "application/json",
            r#"{"expression": "up ==", "for": "soon"}"#.into(),
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("for"),
        ),
        (
            "bad PATCH",
            "PATCH",
            format!("/api/v1/rules/{id}"),
            "application/json",
            r#"{"expression": "up =="}"#.into(),
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("expression"),
        ),
        (
            "PATCH unknown field",
            "PATCH",
            format!("/api/v1/rules/{id}"),
            "application/json",
            r#"{"expr": "up"}"#.into(),
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("expr"),
        ),
        (
            "PUT unknown id",
            "PUT",
            "/api/v1/rules/99999".into(),
            "application/json",
            r#"{"expression": "up"}"#.into(),
            StatusCode::NOT_FOUND,
            None,
        ),
        (
            "id not a number",
            "GET",
            "/api/v1/rules/abc".into(),
            "",
            String::new(),
            StatusCode::BAD_REQUEST,
            None,
        ),
        (
            "bad group interval",
            "PATCH",
            format!("/api/v1/groups/{}", group["id"]),
            "application/json",
            r#"{"interval": "often"}"#.into(),
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("interval"),
        ),
        (
            "unknown route",
            "GET",
            "/api/v1/nothing".into(),
            "",
            String::new(),
            StatusCode::NOT_FOUND,
            None,
        ),
    ];
    for (what, method, path, content_type, body, expected, field) in cases {
        let (status, response) =
            client.raw(method, &path, content_type, body.into_bytes(), None).await;
        assert_eq!(status, expected, "{what}: {response}");
        let message = response["error"]
            .as_str()
            .unwrap_or_else(|| panic!("{what}: no error message in {response}"));
        assert!(!message.is_empty(), "{what}");
        if let Some(field) = field {
            assert!(
                response["fields"].get(field).is_some(),
                "{what}: `{field}` not named in {response}"
            );
            assert!(message.contains(field), "{what}: message `{message}` does not name `{field}`");
        }
        assert_eq!(app.rule_count(), rows_before, "{what}: the row count changed");
    }

    // Every bad field at once.
    let (status, body) = client
        .post(
            "/api/v1/rules",
            &json!({"expression": "up ==", "for": "x", "severity": " ", "labels": {"9": "x"}}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let fields: Vec<&String> = body["fields"].as_object().unwrap().keys().collect();
    assert_eq!(fields, ["expression", "for", "labels.9", "severity"]);

    let (_, unchanged) = client.get(&format!("/api/v1/rules/{id}")).await;
    assert_eq!(unchanged, existing, "failed updates left the rule as it was");
}

async fn original_pipeline_route_keeps_working(app: TestApp) {
    let client = app.client();
    let payload = json!({
        "expression": "node_load1 > 4", "duration": "10m", "severity": "critical",
        "summary": "High load", "description": "Load is high", "datasource_id": 2, "group_id": 7,
        "heal_enabled": true, "extra_flask_field": "ignored"
    });
    let (status, body) = client.post("/rules", &payload).await;
    assert_eq!(status, StatusCode::CREATED);
    let id = body["id"].as_i64().unwrap();
    assert_eq!(body, json!({"status": "created", "id": id}));

    let (status, minimal) = client.post("/rules", &json!({"expression": "up == 0"})).await;
    assert_eq!(status, StatusCode::CREATED);
    let (_, rule) = client.get(&format!("/api/v1/rules/{}", minimal["id"])).await;
    assert_eq!(
        (rule["for"].as_str(), rule["severity"].as_str()),
        (Some("1m"), Some("warning")),
        "the original defaults"
    );
    assert_eq!((rule["summary"].as_str(), rule["heal_enabled"].as_bool()), (Some(""), Some(false)));

    let (_, full) = client.get(&format!("/api/v1/rules/{id}")).await;
    assert_eq!(
        (full["group_id"].as_i64(), full["heal_enabled"].as_bool(), full["for"].as_str()),
        (Some(7), Some(true), Some("10m"))
    );

    // Its free ids stand on our routes: a rule keeps them, others may name them, and a
    // filter finds them; an id neither stored nor carried is a 422 naming the field.
    let url = format!("/api/v1/rules/{id}");
    let (status, body) = client.send("PATCH", &url, Some(&json!({"summary": "Busy"}))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = client.send("PATCH", &url, Some(&json!({"group_id": 8}))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["fields"]["group_id"], "no group and no rule has group 8", "{body}");
    let sibling = json!({"expression": "up == 0", "group_id": 7, "datasource_id": 2});
    assert_eq!(client.post("/api/v1/rules", &sibling).await.0, StatusCode::CREATED);
    let (_, listed) = client.get("/api/v1/rules?group_id=7&datasource_id=2").await;
    assert_eq!(listed["total"], 2, "{listed}");
    let typo = json!({"expression": "up == 0", "group_id": 70, "datasource_id": 20});
    let (status, body) = client.post("/api/v1/rules", &typo).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["fields"]["datasource_id"], "no shard and no rule has datasource 20");
    assert_eq!(body["fields"]["group_id"], "no group and no rule has group 70");
    for filter in ["group_id=70", "datasource_id=20"] {
        let (status, body) = client.get(&format!("/api/v1/rules?{filter}")).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{filter}: {body}");
    }
    let (status, body) = client.send("PUT", &url, Some(&typo)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    // Lists without filters refuse one rather than ignore it.
    let (status, body) = client.get("/api/v1/shards?name=eu").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body["fields"].get("name").is_some(), "{body}");

    let (status, body) =
        client.post("/rules", &json!({"expression": "up ==", "duration": "ten"})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        body["fields"].get("expression").is_some() && body["fields"].get("for").is_some(),
        "{body}"
    );
    assert_eq!(app.rule_count(), 3, "the two, and the sibling");
}

async fn rendered_rule_file_and_etag(app: TestApp) {
    let client = app.client();
    let (_, group) = client.post("/api/v1/groups", &json!({"name": "storage"})).await;
    let mut rule = disk_rule();
    rule["group_id"] = group["id"].clone();
    client.post("/api/v1/rules", &rule).await;
    rule_with_free_datasource(&client, "Quiet", 9).await;

    let (status, headers, text) = client.text("/api/v1/rules.yml?heal_only=true", None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(headers["content-type"].to_str().unwrap().starts_with("application/yaml"));
    assert!(
        text.contains("alert: DiskFull")
            && text.contains("heal: \"true\"")
            && !text.contains("Quiet"),
        "{text}"
    );
    test_support::assert_promtool_accepts(&text);

    let etag = headers["etag"].to_str().unwrap().to_owned();
    let (status, _, body) = client.text("/api/v1/rules.yml?heal_only=true", Some(&etag)).await;
    assert_eq!((status, body.as_str()), (StatusCode::NOT_MODIFIED, ""));
    let (status, _, _) = client.text("/api/v1/rules.yml", Some(&etag)).await;
    assert_eq!(status, StatusCode::OK, "other content, other ETag");

    // A datasource's file: its rules plus those without one. Datasource 9 only a rule
    // carries; 3 is neither a shard nor on any rule, a typo rather than an empty file.
    let (_, _, nine) = client.text("/api/v1/rules.yml?datasource_id=9", None).await;
    assert!(nine.contains("DiskFull") && nine.contains("Quiet"), "{nine}");
    let (status, _, _) = client.text("/api/v1/rules.yml?datasource_id=3", None).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
}

const TOKENS: [(&str, Scope, &str); 4] = [
    ("reader", Scope::Read, "reader-secret-1"),
    ("editor", Scope::Write, "editor-secret-2"),
    ("deployer", Scope::Deploy, "deployer-secret-3"),
    ("root", Scope::Admin, "root-secret-4"),
];

async fn tokens_guard_mutations(app: TestApp) {
    let app = app.with_tokens(&TOKENS);
    let as_token = |secret: &str| app.client().with_token(secret);
    let anonymous = app.client();
    let rule = json!({"expression": "up"});
    let (status, body) = anonymous.post("/api/v1/rules", &rule).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(
        body["error"].as_str().unwrap().contains("Bearer <token>` with scope `write`"),
        "{body}"
    );
    assert_eq!(anonymous.post("/rules", &rule).await.0, StatusCode::UNAUTHORIZED);
    let (status, body) = anonymous.get("/api/v1/rules").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "with tokens, reads need one too: {body}");
    assert_eq!(anonymous.text("/healthz", None).await.0, StatusCode::OK, "health stays open");

    let (status, body) = as_token("editor-secret-2x").post("/api/v1/rules", &rule).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(body["error"].as_str().unwrap().contains("not valid"), "{body}");
    let (status, body) = as_token("reader-secret-1").post("/api/v1/rules", &rule).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["error"], "token `reader` has scope `read`; this request needs `write`");
    assert_eq!(app.rule_count(), 0);

    let (status, created) = as_token("editor-secret-2").post("/api/v1/rules", &rule).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let (status, revisions) = as_token("reader-secret-1").get("/api/v1/revisions").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(revisions["revisions"][0]["actor"], "editor", "the token's name is the actor");
    let (status, _) =
        anonymous.send("DELETE", &format!("/api/v1/rules/{}", created["id"]), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // The scheme is case-insensitive (RFC 7235).
    let lower = app.router();
    let request = axum::http::Request::get("/api/v1/rules")
        .header("authorization", "bearer reader-secret-1")
        .body(axum::body::Body::empty())
        .unwrap();
    let response = tower::ServiceExt::oneshot(lower, request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);

    // Deploys need `deploy`; hosts and the token list need `admin`.
    let (status, body) = as_token("editor-secret-2").post("/api/v1/deployments", &json!({})).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, body) =
        as_token("deployer-secret-3").post("/api/v1/deployments", &json!({})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "allowed, but there is no host: {body}");
    let (status, _) = as_token("deployer-secret-3").get("/api/v1/hosts").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, hosts) = as_token("root-secret-4").get("/api/v1/hosts").await;
    assert_eq!(status, StatusCode::OK, "{hosts}");
    let (status, tokens) = as_token("root-secret-4").get("/api/v1/tokens").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(tokens["tokens"][1], json!({"name": "editor", "scope": "write"}));
    assert!(!tokens.to_string().contains("secret"), "{tokens}");

    // With public reads, plain reads are open; hosts, tokens, farms and targets never are.
    let public = TestApp::sqlite().with_tokens(&TOKENS).with_public_reads();
    let anonymous = public.client();
    assert_eq!(anonymous.get("/api/v1/rules").await.0, StatusCode::OK);
    assert_eq!(anonymous.text("/api/v1/rules.yml", None).await.0, StatusCode::OK);
    assert_eq!(anonymous.get("/api/v1/hosts").await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(anonymous.get("/api/v1/tokens").await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(anonymous.text("/api/v1/targets", None).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(anonymous.get("/api/v1/farms").await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(anonymous.get("/api/v1/shards").await.0, StatusCode::OK);
    assert_eq!(anonymous.post("/api/v1/rules", &rule).await.0, StatusCode::UNAUTHORIZED);
    let (status, _, body) =
        public.client().with_token("reader-secret-1").text("/api/v1/targets", None).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "[]\n"));
}

async fn health_and_metrics(app: TestApp) {
    let client = app.client();
    client.post("/api/v1/rules", &json!({"expression": "up"})).await;
    client
        .post(
            "/api/v1/rules",
            &json!({"kind": "record", "name": "job:up:sum", "expression": "sum(up)"}),
        )
        .await;
    client.get("/api/v1/rules/999").await;
    client.post("/api/v1/shards", &json!({"name": "metrics-shard"})).await;

    let (status, _, text) = client.text("/healthz", None).await;
    assert_eq!((status, text.as_str()), (StatusCode::OK, "ok\n"));
    let (status, _, metrics) = client.text("/metrics", None).await;
    assert_eq!(status, StatusCode::OK);
    for line in [
        r#"promrules_rules{kind="alert"} 1"#,
        r#"promrules_rules{kind="record"} 1"#,
        r#"promrules_targets{kind="shards"} 1"#,
        r#"promrules_targets{kind="exporters"} 0"#,
        r#"promrules_http_requests_total{method="POST",route="/api/v1/rules",status="201"} 2"#,
        r#"promrules_http_requests_total{method="GET",route="/api/v1/rules/{id}",status="404"} 1"#,
        r#"promrules_http_request_duration_seconds_count{method="POST",route="/api/v1/rules"} 2"#,
    ] {
        assert!(metrics.lines().any(|l| l == line), "missing `{line}` in:\n{metrics}");
    }
}

/// Every answer in these tests passes `support::openapi::check`; it refuses what the
/// document does not say: an extra field, a wrong type, an undocumented status or route.
#[tokio::test]
async fn the_openapi_check_refuses_what_the_document_does_not_say() {
    let app = TestApp::sqlite();
    let client = app.client();
    let (status, group) = client.post("/api/v1/groups", &json!({"name": "checked"})).await;
    assert_eq!(status, StatusCode::CREATED, "{group}");
    let refused = |method: &'static str, path: &'static str, status: u16, body: Value| {
        let bytes = serde_json::to_vec(&body).unwrap();
        let outcome = std::panic::catch_unwind(|| {
            support::openapi::check(method, path, status, "application/json", &bytes)
        });
        outcome.is_err()
    };
    assert!(!refused("GET", "/api/v1/groups/1", 200, group.clone()), "the real answer passes");
    let mut extra = group.clone();
    extra["colour"] = json!("red");
    assert!(refused("GET", "/api/v1/groups/1", 200, extra), "an undocumented field");
    let mut wrong = group.clone();
    wrong["name"] = json!(5);
    assert!(refused("GET", "/api/v1/groups/1", 200, wrong), "a wrong type");
    let mut null = group.clone();
    null["interval"] = Value::Null;
    assert!(!refused("GET", "/api/v1/groups/1", 200, null), "nullable allows null");
    assert!(refused("GET", "/api/v1/groups/1", 299, group.clone()), "an undocumented status");
    assert!(refused("GET", "/api/v1/nowhere", 200, group), "an undocumented route");
    assert!(refused("GET", "/api/v1/groups/1", 404, json!({"message": "no"})), "an error's shape");
}

#[tokio::test]
async fn openapi_lists_every_route_and_each_answers() {
    let app = TestApp::sqlite();
    let client = app.client();
    let (status, doc) = client.get("/api/v1/openapi.json").await;
    assert_eq!(status, StatusCode::OK);
    let paths = doc["paths"].as_object().unwrap();
    for route in [
        "/api/v1/rules",
        "/api/v1/rules/{id}",
        "/api/v1/rules.yml",
        "/api/v1/groups",
        "/api/v1/groups/{id}",
        "/api/v1/shards",
        "/api/v1/shards/{id}",
        "/api/v1/services",
        "/api/v1/services/{id}",
        "/api/v1/farms",
        "/api/v1/farms/{id}",
        "/api/v1/farms/{id}/hosts",
        "/api/v1/farms/{id}/hosts/{host}",
        "/api/v1/projects",
        "/api/v1/projects/{id}",
        "/api/v1/exporters",
        "/api/v1/exporters/{id}",
        "/api/v1/targets",
        "/api/v1/rules/test",
        "/api/v1/import",
        "/api/v1/revisions",
        "/api/v1/revisions/{n}",
        "/api/v1/revisions/{n}/restore",
        "/api/v1/rules/{id}/history",
        "/api/v1/hosts",
        "/api/v1/hosts/{id}",
        "/api/v1/deployments",
        "/api/v1/deployments/{id}",
        "/rules",
        "/deploy",
        "/healthz",
        "/metrics",
        "/api/v1/openapi.json",
    ] {
        let methods = paths
            .get(route)
            .unwrap_or_else(|| panic!("`{route}` missing from the OpenAPI document"));
        for method in methods.as_object().unwrap().keys() {
            let path = route.replace("{id}", "1").replace("{n}", "1").replace("{host}", "web01");
            let body = if matches!(method.as_str(), "post" | "put" | "patch") {
                b"{}".to_vec()
            } else {
                Vec::new()
            };
            let (status, _) =
                client.raw(&method.to_uppercase(), &path, "application/json", body, None).await;
            assert!(
                status != StatusCode::METHOD_NOT_ALLOWED
                    && (status != StatusCode::NOT_FOUND || route.contains('{')),
                "{method} {route}: {status}"
            );
        }
    }
}

/// 8 clients over a real socket, 1,000 creates each: exactly 8,000 rows, on both backends.
#[test]
fn eight_http_clients_create_8000_rules_sqlite() {
    support::concurrent_creates(TestApp::sqlite());
}

#[test]
fn eight_http_clients_create_8000_rules_postgres() {
    support::concurrent_creates(TestApp::postgres());
}

#[tokio::test]
async fn health_is_503_when_the_database_is_gone() {
    let app = TestApp::postgres();
    let client = app.client();
    assert_eq!(client.get("/healthz").await.0, StatusCode::OK);
    app.drop_postgres_database();
    let (status, body) = client.get("/healthz").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert!(body["error"].as_str().unwrap().starts_with("database unreachable"), "{body}");
}

/// One simulated Prometheus host for the deploy stories, used one story at a time.
async fn sim_host() -> tokio::sync::MutexGuard<'static, test_support::SimHost> {
    static HOST: std::sync::OnceLock<tokio::sync::Mutex<test_support::SimHost>> =
        std::sync::OnceLock::new();
    HOST.get_or_init(|| tokio::sync::Mutex::new(test_support::SimHost::start(21, ""))).lock().await
}

async fn deploy_through_the_api(app: TestApp) {
    let sim = sim_host().await;
    let client = app.client();
    // Hosts may only name shards that exist.
    let (status, shard) = client.post("/api/v1/shards", &json!({"name": "deploy-eu"})).await;
    assert_eq!(status, StatusCode::CREATED, "{shard}");
    let shard = shard["id"].as_i64().unwrap();
    let unknown = json!({"name": "nowhere", "address": "h", "rule_file": "/r.yml", "prometheus_url": "http://h", "datasources": [shard + 100]});
    let (status, body) = client.post("/api/v1/hosts", &unknown).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body["fields"]["datasources"].as_str().unwrap().contains("no shard"), "{body}");
    let host = json!({
        "name": "prom-1",
        "address": sim.ip,
        "ssh_port": sim.ssh_port,
        "ssh_user": "root",
        "identity_file": test_support::client_key(),
        "known_hosts_file": sim.known_hosts_file(),
        "rule_file": sim.rule_file(),
        "prometheus_url": sim.prometheus_url(),
        "datasources": [shard],
    });
    let (status, stored) = client.post("/api/v1/hosts", &host).await;
    assert_eq!(status, StatusCode::CREATED, "{stored}");
    let (status, body) = client.post("/api/v1/hosts", &json!({"name": "bad", "address": "h", "rule_file": "relative.yml", "prometheus_url": "x"})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        body["fields"].get("rule_file").is_some() && body["fields"].get("prometheus_url").is_some(),
        "{body}"
    );

    // A unique name per backend run: the host is shared, its Prometheus must see new content.
    static RUNS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let name = format!("ApiDeployed{}", RUNS.fetch_add(1, std::sync::atomic::Ordering::SeqCst));
    client
        .post(
            "/api/v1/rules",
            &json!({"name": name, "expression": "vector(1)", "datasource_id": shard}),
        )
        .await;
    rule_with_free_datasource(&client, "OtherShard", shard + 1).await;

    let (status, started) = client.post("/api/v1/deployments", &json!({"hosts": ["prom-1"]})).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{started}");
    let url = started["url"].as_str().unwrap().to_owned();
    let mut deployment = Value::Null;
    for _ in 0..600 {
        deployment = client.get(&url).await.1;
        if deployment["status"] != "running" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(deployment["status"], "succeeded", "{deployment}");
    let record = &deployment["hosts"][0];
    assert_eq!(
        (record["host"].as_str(), record["outcome"].as_str()),
        (Some("prom-1"), Some("deployed")),
        "{deployment}"
    );
    assert_eq!(record["content_hash"].as_str().unwrap().len(), 64);
    assert_eq!(deployment["actor"], "api");
    assert_eq!(sim.loaded_rules(), [name.as_str()], "only its datasource's rules reach the host");

    // The original pipeline's route, by address: nothing changed since.
    let (status, body) = client.post("/deploy", &json!({"host": sim.ip})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "unchanged");

    let (status, body) = client.post("/api/v1/deployments", &json!({"hosts": ["nope"]})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body["error"].as_str().unwrap().contains("unknown host `nope`"));

    // Past deployments, newest first: the `/deploy` one, then the background one.
    let (status, listed) = client.get("/api/v1/deployments?host=prom-1").await;
    assert_eq!(status, StatusCode::OK, "{listed}");
    let ids: Vec<&Value> =
        listed["deployments"].as_array().unwrap().iter().map(|d| &d["id"]).collect();
    assert_eq!(ids.len(), 2, "{listed}");
    assert_eq!(ids[1], &deployment["id"]);
    assert_eq!(listed["total"], 2);
    let (_, deployed) = client.get("/api/v1/deployments?outcome=deployed&actor=api").await;
    assert_eq!(deployed["deployments"][0], deployment, "the listing carries the full record");
    assert_eq!(deployed["total"], 1);
    let (status, body) = client.get("/api/v1/deployments?outcome=exploded").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body["fields"]["outcome"].as_str().unwrap().contains("rolled_back"), "{body}");
    let (status, _) = client.get("/api/v1/deployments?colour=red").await;
    assert!(status.is_client_error(), "unknown filters are refused");

    // Since when: an age or a time; neither is a 422 naming `since`.
    let (_, recent) = client.get("/api/v1/deployments?since=1h&host=prom-1").await;
    assert_eq!(recent["total"], 2, "{recent}");
    let (_, future) = client.get("/api/v1/deployments?since=2999-01-01T00:00:00Z").await;
    assert_eq!(future["total"], 0, "{future}");
    // From the start of the newest (the `/deploy` one) on: that one only.
    let newest = &listed["deployments"][0];
    let started = newest["started_at"].as_str().unwrap();
    let (_, from) = client.get(&format!("/api/v1/deployments?since={started}&actor=api")).await;
    assert_eq!(
        (&from["total"], &from["deployments"][0]["id"]),
        (&json!(1), &newest["id"]),
        "{from}"
    );
    let (status, body) = client.get("/api/v1/deployments?since=yesterday").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body["fields"]["since"].as_str().unwrap().contains("`yesterday`"), "{body}");
}

/// The optional server modes: a burst of rule changes becomes one deploy once it settles;
/// a hand edit on a host is reported as drift, then repaired.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_deploy_and_drift_check() {
    let sim = sim_host().await;
    let app = TestApp::sqlite();
    let state = app.state();
    let client = support::Client::new(promrules_api::router(state.clone()));
    let host = json!({
        "name": "prom-auto", "address": sim.ip, "ssh_port": sim.ssh_port, "ssh_user": "root",
        "identity_file": test_support::client_key(), "known_hosts_file": sim.known_hosts_file(),
        "rule_file": sim.rule_file(), "prometheus_url": sim.prometheus_url(),
    });
    assert_eq!(client.post("/api/v1/hosts", &host).await.0, StatusCode::CREATED);
    let auto = state.rollout().spawn_auto_deploy(std::time::Duration::from_millis(300));
    for name in ["AutoOne", "AutoTwo"] {
        client.post("/api/v1/rules", &json!({"name": name, "expression": "vector(1)"})).await;
    }
    let mut loaded = Vec::new();
    for _ in 0..300 {
        loaded = sim.loaded_rules();
        if loaded == ["AutoOne", "AutoTwo"] {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(loaded, ["AutoOne", "AutoTwo"], "auto-deployed after the changes settled");
    auto.abort();

    let expected = std::fs::read(sim.rule_file()).unwrap();
    std::fs::write(sim.rule_file(), "groups: []\n").unwrap();
    let reports = state.rollout().check_drift(false).await.unwrap();
    assert_eq!(
        reports[0].outcome,
        promrules_deploy::Outcome::WouldChange,
        "{}",
        reports[0].message
    );
    assert_eq!(
        std::fs::read_to_string(sim.rule_file()).unwrap(),
        "groups: []\n",
        "reporting changes nothing"
    );
    let repaired = state.rollout().check_drift(true).await.unwrap();
    assert_eq!(repaired[0].outcome, promrules_deploy::Outcome::Deployed, "{}", repaired[0].message);
    assert_eq!(std::fs::read(sim.rule_file()).unwrap(), expected);
}

/// The target model over REST, then the rendered `file_sd` with filters and an ETag.
async fn target_model_crud_and_file_sd(app: TestApp) {
    let client = app.client();
    for (path, body) in [
        ("/api/v1/shards", json!({"name": "eu-shard"})),
        ("/api/v1/shards", json!({"name": "us-shard"})),
        ("/api/v1/services", json!({"name": "shop"})),
        ("/api/v1/farms", json!({"name": "web-farm", "hosts": ["web02", "web01"]})),
        ("/api/v1/farms", json!({"name": "us-farm", "source": "consul", "hosts": ["us01"]})),
        (
            "/api/v1/projects",
            json!({"name": "web", "service": "shop", "shard": "eu-shard", "farm": "web-farm"}),
        ),
        (
            "/api/v1/projects",
            json!({"name": "us-web", "service": "shop", "shard": "us-shard", "farm": "us-farm"}),
        ),
        ("/api/v1/exporters", json!({"project": "web", "job": "node", "port": 9100})),
        (
            "/api/v1/exporters",
            json!({"project": "web", "job": "probe", "port": 9115, "path": "/probe?module=http_2xx"}),
        ),
        (
            "/api/v1/exporters",
            json!({"project": "us-web", "job": "app", "port": 8000, "port_end": 8001}),
        ),
    ] {
        let (status, created) = client.post(path, &body).await;
        assert_eq!(status, StatusCode::CREATED, "{path}: {created}");
        assert!(created["id"].is_i64() && created["created_at"].is_string(), "{created}");
    }
    let (status, shards) = client.get("/api/v1/shards").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(shards["shards"][0]["name"], "eu-shard");
    let (_, farms) = client.get("/api/v1/farms").await;
    let web_farm =
        farms["farms"].as_array().unwrap().iter().find(|f| f["name"] == "web-farm").unwrap();
    assert_eq!(web_farm["hosts"], json!(["web01", "web02"]));
    assert_eq!(web_farm["source"], "promgen", "Promgen's source by default");

    let (status, _, text) = client.text("/api/v1/targets?shard=eu-shard", None).await;
    assert_eq!(status, StatusCode::OK);
    let groups: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(groups.as_array().unwrap().len(), 2, "{text}");
    assert_eq!(groups[0]["targets"], json!(["web01:9100", "web02:9100"]));
    assert_eq!(groups[1]["labels"]["__param_module"], "http_2xx");
    assert_eq!(groups[1]["labels"]["__metrics_path__"], "/probe");
    let (_, _, us) = client.text("/api/v1/targets?shard=us-shard", None).await;
    let us: Value = serde_json::from_str(&us).unwrap();
    assert_eq!(us[0]["targets"], json!(["us01:8000", "us01:8001"]));
    assert_eq!(us[0]["labels"]["__farm_source"], "consul");

    // ETag: 304 until a host is added, then new content.
    let (_, headers, _) = client.text("/api/v1/targets?shard=eu-shard", None).await;
    let etag = headers["etag"].to_str().unwrap().to_owned();
    assert_eq!(
        client.text("/api/v1/targets?shard=eu-shard", Some(&etag)).await.0,
        StatusCode::NOT_MODIFIED
    );
    let farm_id = web_farm["id"].as_i64().unwrap();
    let (status, farm) =
        client.post(&format!("/api/v1/farms/{farm_id}/hosts"), &json!({"name": "web03"})).await;
    assert_eq!((status, farm["hosts"].as_array().unwrap().len()), (StatusCode::CREATED, 3));
    let (status, _, text) = client.text("/api/v1/targets?shard=eu-shard", Some(&etag)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(text.contains("web03:9100"));
    let (status, farm) =
        client.send("DELETE", &format!("/api/v1/farms/{farm_id}/hosts/web03"), None).await;
    assert_eq!((status, farm["hosts"].as_array().unwrap().len()), (StatusCode::OK, 2));
    let (status, body) =
        client.send("DELETE", &format!("/api/v1/farms/{farm_id}/hosts/web03"), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(body["error"].as_str().unwrap().contains("no host `web03`"), "{body}");

    // Bad input names the field; conflicts and refusals change nothing.
    let before = client.text("/api/v1/targets", None).await.2;
    let (status, body) = client
        .post("/api/v1/exporters", &json!({"project": "web", "job": "x", "port": 70000}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body["fields"]["port"].is_string(), "{body}");
    let (status, body) = client
        .post("/api/v1/projects", &json!({"name": "p2", "service": "shop", "shard": "nowhere"}))
        .await;
    assert_eq!(
        (status, body["fields"]["shard"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("no shard named `nowhere`"))
    );
    let (status, body) = client.post("/api/v1/shards", &json!({"name": "bad/name"})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body["fields"]["name"].as_str().unwrap().contains("not a valid name"), "{body}");
    let (status, _) = client.post("/api/v1/shards", &json!({"name": "eu-shard"})).await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, body) =
        client.post("/api/v1/farms", &json!({"name": "typo-farm", "hostz": ["a"]})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body["fields"]["hostz"].is_string(), "unknown fields are named: {body}");
    let (status, farm) = client.post("/api/v1/farms", &json!({"name": "empty-farm"})).await;
    assert_eq!((status, farm["hosts"].clone()), (StatusCode::CREATED, json!([])));
    let eu = shards["shards"][0]["id"].as_i64().unwrap();
    let (status, body) = client.send("DELETE", &format!("/api/v1/shards/{eu}"), None).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(body["error"].as_str().unwrap().contains("used by projects web"), "{body}");
    assert_eq!(client.text("/api/v1/targets", None).await.2, before);

    // Rules select by the shard's name too.
    client
        .post(
            "/api/v1/rules",
            &json!({"name": "EuOnly", "expression": "up == 0", "datasource_id": eu}),
        )
        .await;
    rule_with_free_datasource(&client, "Elsewhere", eu + 100).await;
    let (status, _, rules) = client.text("/api/v1/rules.yml?shard=eu-shard", None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(rules.contains("EuOnly") && !rules.contains("Elsewhere"), "{rules}");
    let (status, _, body) = client.text("/api/v1/rules.yml?shard=nowhere", None).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    // Every filter that names nothing stored is a 422 naming it, never an empty 200.
    for (path, field) in [
        ("/api/v1/targets?shard=nowhere", "shard"),
        ("/api/v1/targets?service=nowhere", "service"),
        ("/api/v1/targets?project=nowhere", "project"),
        ("/api/v1/exporters?project=nowhere", "project"),
        ("/api/v1/rules.yml?datasource_id=987654", "datasource_id"),
    ] {
        let (status, _, body) = client.text(path, None).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{path}: {body}");
        let body: Value = serde_json::from_str(&body).unwrap();
        assert!(body["fields"][field].as_str().unwrap().contains("no "), "{path}: {body}");
    }
    let (status, _, _) =
        client.text(&format!("/api/v1/rules.yml?datasource_id={}", eu + 100), None).await;
    assert_eq!(status, StatusCode::OK, "a datasource only rules carry is still a datasource");

    // Replace and delete.
    let (_, exporters) = client.get("/api/v1/exporters?project=web").await;
    let node = &exporters["exporters"][0];
    assert_eq!(node["job"], "node");
    let id = node["id"].as_i64().unwrap();
    let (status, replaced) = client
        .send(
            "PUT",
            &format!("/api/v1/exporters/{id}"),
            Some(&json!({"project": "web", "job": "node", "port": 9100, "enabled": false})),
        )
        .await;
    assert_eq!((status, replaced["enabled"].as_bool()), (StatusCode::OK, Some(false)));
    let (_, _, text) = client.text("/api/v1/targets?project=web", None).await;
    assert!(!text.contains(":9100"), "a disabled exporter is left out: {text}");
    assert_eq!(
        client.send("DELETE", &format!("/api/v1/exporters/{id}"), None).await.0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(client.get(&format!("/api/v1/exporters/{id}")).await.0, StatusCode::NOT_FOUND);
}

/// The rule-file fields beyond the original pipeline's, over REST: stored, validated with
/// the field named, rendered; and the original clients' group and datasource 0.
async fn every_rule_file_field_over_rest(app: TestApp) {
    let client = app.client();
    let group = json!({"name": "db", "interval": "30s", "limit": 50, "query_offset": "1m",
                       "labels": {"team": "db"}});
    let (status, created) = client.post("/api/v1/groups", &group).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(
        (created["limit"].as_i64(), created["labels"]["team"].as_str()),
        (Some(50), Some("db"))
    );
    let rule = json!({"name": "Flapping", "expression": "changes(up[5m]) > 3", "for": "1m",
                      "keep_firing_for": "10m", "group_id": created["id"]});
    let (status, stored) = client.post("/api/v1/rules", &rule).await;
    assert_eq!(status, StatusCode::CREATED, "{stored}");
    assert_eq!(stored["keep_firing_for"], "10m");
    let (_, _, text) = client.text("/api/v1/rules.yml", None).await;
    for line in [
        "  query_offset: 1m\n",
        "  limit: 50\n",
        "    keep_firing_for: 10m\n",
        "  labels:\n    team: db\n",
    ] {
        assert!(text.contains(line), "{line:?} in {text}");
    }

    let id = created["id"].as_i64().unwrap();
    let (status, patched) = client
        .send("PATCH", &format!("/api/v1/groups/{id}"), Some(&json!({"limit": null, "labels": {}})))
        .await;
    assert_eq!(status, StatusCode::OK, "{patched}");
    assert_eq!(
        (patched["limit"].as_null(), patched["query_offset"].as_str()),
        (Some(()), Some("1m"))
    );

    for (body, path, field) in [
        (json!({"name": "bad", "limit": -1}), "/api/v1/groups", "limit"),
        (json!({"name": "bad", "query_offset": "soon"}), "/api/v1/groups", "query_offset"),
        (json!({"name": "bad", "labels": {"__x": "y"}}), "/api/v1/groups", "labels.__x"),
        (
            json!({"kind": "record", "name": "a:b", "expression": "up", "keep_firing_for": "5m"}),
            "/api/v1/rules",
            "keep_firing_for",
        ),
        (
            json!({"name": "A", "expression": "up", "keep_firing_for": "a while"}),
            "/api/v1/rules",
            "keep_firing_for",
        ),
    ] {
        let (status, error) = client.post(path, &body).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {error}");
        assert!(error["fields"][field].is_string(), "{field} named in {error}");
    }

    // The original pipeline's clients number groups and datasources from 0.
    let (status, body) = client
        .post("/rules", &json!({"expression": "up == 0", "group_id": 0, "datasource_id": 0}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (_, _, text) = client.text("/api/v1/rules.yml", None).await;
    assert!(text.contains("- name: group-0\n"), "{text}");
}

async fn history_and_restore_over_rest(app: TestApp) {
    let client = app.client();
    let (_, first) = client.post("/api/v1/rules", &disk_rule()).await;
    let (_, second) =
        client.post("/api/v1/rules", &json!({"name": "Down", "expression": "up == 0"})).await;
    let (first, second) = (first["id"].as_i64().unwrap(), second["id"].as_i64().unwrap());
    let (_, _, file_then) = client.text("/api/v1/rules.yml", None).await;
    let (_, revisions) = client.get("/api/v1/revisions").await;
    let then = revisions["revisions"][0]["number"].as_i64().unwrap();
    assert_eq!(revisions["total"], 2, "{revisions}");
    assert_eq!(revisions["revisions"][0]["action"], "create_rule");
    assert_eq!(revisions["revisions"][0]["actor"], "api");

    let patch = json!({"summary": "changed"});
    let (status, _) = client.send("PATCH", &format!("/api/v1/rules/{first}"), Some(&patch)).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = client.send("DELETE", &format!("/api/v1/rules/{second}"), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, _, file_now) = client.text("/api/v1/rules.yml", None).await;
    assert_ne!(file_now, file_then);

    // The file as it was, byte for byte, and the revision's changes.
    let (status, _, old) = client.text(&format!("/api/v1/rules.yml?revision={then}"), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(old, file_then);
    let (_, newest) = client.get("/api/v1/revisions?limit=1").await;
    let deleted_at = newest["revisions"][0]["number"].as_i64().unwrap();
    let (status, detail) = client.get(&format!("/api/v1/revisions/{deleted_at}")).await;
    assert_eq!(status, StatusCode::OK, "{detail}");
    assert_eq!(detail["action"], "delete_rule");
    assert_eq!(detail["changes"][0]["id"], second);
    assert_eq!(detail["changes"][0]["before"]["name"], "Down");
    assert!(detail["changes"][0]["after"].is_null());

    let (status, history) = client.get(&format!("/api/v1/rules/{first}/history")).await;
    assert_eq!(status, StatusCode::OK, "{history}");
    let actions: Vec<&str> = history["revisions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["patch_rule", "create_rule"], "newest first");
    assert_eq!(
        history["revisions"][0]["before"]["summary"],
        "Disk {{ $labels.device }} almost full"
    );
    assert_eq!(history["revisions"][0]["after"]["summary"], "changed");

    // Restoring one rule touches only it; restoring all brings the deleted rule back by id.
    let (status, one) =
        client.send("POST", &format!("/api/v1/revisions/{then}/restore?rule={first}"), None).await;
    assert_eq!(status, StatusCode::OK, "{one}");
    assert_eq!(one["changes"].as_array().unwrap().len(), 1, "{one}");
    assert_eq!(app.rule_count(), 1);
    let (status, all) =
        client.send("POST", &format!("/api/v1/revisions/{then}/restore"), None).await;
    assert_eq!(status, StatusCode::OK, "{all}");
    assert_eq!(all["action"], "restore");
    let (status, back) = client.get(&format!("/api/v1/rules/{second}")).await;
    assert_eq!((status, back["name"].as_str()), (StatusCode::OK, Some("Down")));
    let (_, _, restored) = client.text("/api/v1/rules.yml", None).await;
    assert_eq!(restored, file_then, "the rule set is what it was after revision {then}");

    let (status, body) = client.get("/api/v1/revisions/9999").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let (status, body) = client.send("POST", "/api/v1/revisions/9999/restore", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let (status, _, _) = client.text("/api/v1/rules.yml?revision=9999", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

const IMPORTED: &str = "groups:
  - name: node
    interval: 30s
    rules:
      - alert: DiskFull
        expr: |
          # the root volume only
          node_filesystem_avail_bytes{mountpoint=\"/\"}
            / node_filesystem_size_bytes < 0.1
        for: 5m
        labels: {severity: warning}
        annotations: {summary: 'Disk {{ $labels.device }} filling'}
      - alert: DiskFull
        expr: node_filesystem_avail_bytes / node_filesystem_size_bytes < 0.05
        labels: {severity: critical}
      - record: instance:up:sum
        expr: sum by (instance) (up)
";

async fn import_over_rest(app: TestApp) {
    let client = app.client();
    let yaml = |path: &str, text: &str| {
        let (path, body) = (path.to_owned(), text.as_bytes().to_vec());
        let client = &client;
        async move { client.raw("POST", &path, "application/yaml", body, None).await }
    };
    let (status, dry) = yaml("/api/v1/import?dry_run=true", IMPORTED).await;
    assert_eq!(status, StatusCode::OK, "{dry}");
    assert_eq!((dry["created"].as_i64(), dry["revision"].as_null()), (Some(3), Some(())));
    assert_eq!(app.rule_count(), 0, "a dry run stores nothing");

    let (status, report) = yaml("/api/v1/import", IMPORTED).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!((report["created"].as_i64(), report["groups_created"].as_i64()), (Some(3), Some(1)));
    let (_, _, file) = client.text("/api/v1/rules.yml", None).await;
    assert!(file.contains("# the root volume only\n"), "comments in PromQL survive:\n{file}");
    let (status, again) = yaml("/api/v1/import", IMPORTED).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!((again["unchanged"].as_i64(), again["created"].as_i64()), (Some(3), Some(0)));
    assert_eq!(app.rule_count(), 3, "the warning/critical pair stays two rules");

    let pruned = "groups:\n  - name: node\n    rules:\n      - record: instance:up:sum\n        expr: sum by (instance) (up)\n";
    let (status, sync) = yaml("/api/v1/import?prune=true&dry_run=true", pruned).await;
    assert_eq!((status, sync["deleted"].as_i64()), (StatusCode::OK, Some(2)), "{sync}");
    assert_eq!(app.rule_count(), 3);
    let (_, sync) = yaml("/api/v1/import?prune=true", pruned).await;
    assert_eq!((sync["deleted"].as_i64(), sync["updated"].as_i64()), (Some(2), Some(0)), "{sync}");
    let actions: Vec<&str> =
        sync["changes"].as_array().unwrap().iter().map(|c| c["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["deleted", "deleted"], "{sync}");
    assert_eq!(app.rule_count(), 1);

    let bad = "groups:\n  - name: node\n    rules:\n      - alert: Broken\n        expr: up ==\n";
    let before = app.rule_count();
    let (status, error) = yaml("/api/v1/import", bad).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{error}");
    let message = error["error"].as_str().unwrap();
    assert!(message.contains("node") && message.contains("Broken"), "{message}");
    assert_eq!(app.rule_count(), before, "a bad file stores nothing");
    let (status, error) =
        client.raw("POST", "/api/v1/import", "application/json", b"{}".to_vec(), None).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{error}");
}

async fn rule_unit_tests_over_rest(app: TestApp) {
    let client = app.client();
    let rule = json!({"name": "InstanceDown", "expression": "up == 0", "for": "5m",
                      "severity": "page", "summary": "{{ $labels.instance }} down"});
    let (status, _) = client.post("/api/v1/rules", &rule).await;
    assert_eq!(status, StatusCode::CREATED);
    let unit_test = |severity: &str| {
        format!(
            "evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
      - series: 'up{{job=\"node\", instance=\"a:9100\"}}'
        values: '0x10'
    alert_rule_test:
      - eval_time: 10m
        alertname: InstanceDown
        exp_alerts:
          - exp_labels: {{severity: {severity}, job: node, instance: 'a:9100'}}
            exp_annotations: {{summary: 'a:9100 down'}}
"
        )
    };
    let run = |body: String| {
        let client = &client;
        async move {
            client
                .raw("POST", "/api/v1/rules/test", "application/yaml", body.into_bytes(), None)
                .await
        }
    };
    let (status, verdict) = run(unit_test("page")).await;
    assert_eq!(status, StatusCode::OK, "{verdict}");
    assert_eq!(verdict["passed"], true);
    assert!(verdict["output"].as_str().unwrap().contains("SUCCESS"), "{verdict}");

    let (status, verdict) = run(unit_test("warning")).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{verdict}");
    assert_eq!(verdict["passed"], false);
    let output = verdict["output"].as_str().unwrap();
    assert!(output.contains("FAILED") && output.contains("InstanceDown"), "{output}");

    let (status, body) = run("just: text".to_owned()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body["error"].as_str().unwrap().contains("tests"), "{body}");
}

/// Each `.route("PATH", …)` of `router()` in `src/lib.rs` with its methods; routes of the
/// `api` router (before it is nested) get the `/api/v1` prefix.
fn router_routes() -> std::collections::BTreeSet<(String, String)> {
    let source = include_str!("../src/lib.rs");
    let body = &source[source.find("pub fn router(").unwrap()..];
    let nested_at = body.find(".nest(\"/api/v1\", api)").unwrap();
    let mut routes = std::collections::BTreeSet::new();
    let mut rest = body;
    let mut offset = 0;
    while let Some(at) = rest.find(".route(") {
        let open = at + ".route(".len();
        let start = open + rest[open..].find('"').unwrap() + 1;
        let path_end = start + rest[start..].find('"').unwrap();
        let path = &rest[start..path_end];
        // The route's handler expression: up to the `)` that closes `.route(`.
        let mut depth = 1;
        let mut end = path_end;
        for (i, c) in rest[path_end..].char_indices() {
            match c {
                '(' => depth += 1,
                ')' => depth -= 1,
                _ => {}
            }
            if depth == 0 {
                end = path_end + i;
                break;
            }
        }
        let handlers = &rest[path_end..end];
        let prefix = if offset + at < nested_at { "/api/v1" } else { "" };
        for method in ["get", "post", "put", "patch", "delete"] {
            let called = |text: &str| {
                text.match_indices(&format!("{method}(")).any(|(i, _)| {
                    i == 0
                        || matches!(
                            text.as_bytes()[i - 1],
                            b'.' | b'(' | b' ' | b':' | b'\n' | b','
                        )
                })
            };
            if called(handlers) {
                routes.insert((format!("{prefix}{path}"), method.to_owned()));
            }
        }
        offset += end;
        rest = &rest[end..];
    }
    routes
}

#[test]
fn openapi_the_router_and_this_page_agree() {
    let doc: Value = serde_json::from_str(promrules_api::OPENAPI).unwrap();
    let documented: std::collections::BTreeSet<(String, String)> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, methods)| {
            methods.as_object().unwrap().keys().map(move |method| (path.clone(), method.clone()))
        })
        .collect();
    let routed = router_routes();
    assert!(routed.len() > 40, "the router's routes were read: {routed:?}");
    let undocumented: Vec<_> = routed.difference(&documented).collect();
    let unrouted: Vec<_> = documented.difference(&routed).collect();
    assert!(undocumented.is_empty(), "routes missing from the OpenAPI document: {undocumented:?}");
    assert!(unrouted.is_empty(), "OpenAPI operations the router does not have: {unrouted:?}");

    let page = include_str!("../../../docs/api.md");
    for (path, method) in &documented {
        let row = format!("| `{}` | `{path}` |", method.to_uppercase());
        assert!(page.contains(&row), "docs/api.md has no row `{row}`");
    }
}

async fn heal_runs_over_rest(app: TestApp) {
    let client = app.client();
    let (_, rule) =
        client.post("/api/v1/rules", &json!({"name": "Disk_Full", "expression": "up == 0"})).await;
    let record = |alertname: &str, time: &str, outcome: &str| {
        json!({"time": time, "command": ["/usr/local/bin/heal-disk.sh", "--all"], "receiver": "am-executor",
               "group_key": "{}:{alertname=\"x\"}", "alertnames": [alertname], "fingerprints": ["a1b2"],
               "outcome": outcome, "exit_code": 0, "duration_ms": 1834})
    };
    for (name, time, outcome) in [
        ("Disk_Full", "2026-12-01T10:00:00Z", "succeeded"),
        ("DiskXFull", "2026-12-02T10:00:00Z", "succeeded"),
        ("Disk_Full", "2026-12-03T10:00:00Z", "skipped"),
    ] {
        let (status, body) = client.post("/api/v1/heal-runs", &record(name, time, outcome)).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        assert_eq!(body["reporter"], "api");
    }
    let url = format!("/api/v1/heal-runs?rule={}", rule["id"]);
    let (status, runs) = client.get(&url).await;
    assert_eq!(status, StatusCode::OK, "{runs}");
    let times: Vec<&str> =
        runs["heal_runs"].as_array().unwrap().iter().map(|r| r["time"].as_str().unwrap()).collect();
    assert_eq!(
        times,
        ["2026-12-03T10:00:00Z", "2026-12-01T10:00:00Z"],
        "the rule's own, newest first; `_` is no wildcard"
    );
    assert_eq!(runs["heal_runs"][1]["command"], json!(["/usr/local/bin/heal-disk.sh", "--all"]));
    let (_, since) = client.get(&format!("{url}&since=2026-12-02T00:00:00Z")).await;
    assert_eq!(since["total"], 1, "{since}");
    let (_, named) = client.get("/api/v1/heal-runs?alertname=DiskXFull").await;
    assert_eq!(named["total"], 1, "{named}");

    let mut bad = record("Disk_Full", "2026-12-03T10:00:00Z", "exploded");
    bad["command"] = json!([]);
    let (status, body) = client.post("/api/v1/heal-runs", &bad).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(
        body["fields"]["outcome"].is_string() && body["fields"]["command"].is_string(),
        "{body}"
    );
    let (status, body) = client.get("/api/v1/heal-runs?rule=999999").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (_, all) = client.get("/api/v1/heal-runs").await;
    assert_eq!(all["total"], 3, "nothing stored from the refused record");
}

const SLO_SPEC: &str = include_str!("../../../examples/slo/checkout-slos.yml");

async fn slo_import_over_rest(app: TestApp) {
    let client = app.client();
    let post = |path: &'static str, text: String| {
        let client = &client;
        async move { client.raw("POST", path, "application/yaml", text.into_bytes(), None).await }
    };
    let (status, report) = post("/api/v1/slos/import", SLO_SPEC.to_owned()).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(
        (report["created"].as_i64(), report["groups_created"].as_i64()),
        (Some(33), Some(6))
    );
    assert_eq!(report["slos_created"], 2, "{report}");
    let (_, again) = post("/api/v1/slos/import", SLO_SPEC.to_owned()).await;
    assert_eq!(again["unchanged"].as_i64(), Some(33), "{again}");
    assert_eq!(
        (again["slos_unchanged"].as_i64(), again["slos_created"].as_i64()),
        (Some(2), Some(0))
    );
    let (_, listed) = client.get("/api/v1/slos").await;
    assert_eq!(listed["total"], 2, "the spec's SLOs are stored as SLOs: {listed}");
    assert_eq!(listed["slos"][0]["sloth_id"], "checkout-requests-availability");
    assert_eq!(listed["slos"][0]["alerting"]["name"], "CheckoutErrorBudgetBurn");
    let (_, _, file) = client.text("/api/v1/rules.yml", None).await;
    assert!(file.contains("- name: sloth-slo-alerts-checkout-requests-availability"), "{file}");
    test_support::assert_promtool_accepts(&file);

    let (status, body) =
        post("/api/v1/slos/import", SLO_SPEC.replace("objective: 99.9", "objective: 100")).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body["fields"]["checkout-requests-availability.objective"].is_string(), "{body}");
    let plugin = SLO_SPEC
        .replace("      raw:\n", "      plugin:\n        id: sloth-common/latency\n      raw:\n");
    let (status, body) = post("/api/v1/slos/import", plugin).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(
        body["fields"]["file"].as_str().unwrap().contains("checkout-requests-latency"),
        "{body}"
    );
    assert_eq!(app.rule_count(), 33, "nothing stored from the refused specs");

    // A 28-day period rewrites the period rules (a new `4w` ratio, the days, the factors).
    let (status, report) =
        post("/api/v1/slos/import?period=28d&dry_run=true", SLO_SPEC.to_owned()).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["created"].as_i64(), Some(2), "the two 4w ratios: {report}");
    let (status, body) = post("/api/v1/slos/import?period=7d", SLO_SPEC.to_owned()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body["fields"]["period"].as_str().unwrap().contains("30d or 28d"), "{body}");

    // A pruning import of the spec without its latency SLO deletes that SLO and its rules.
    let without_latency = &SLO_SPEC[..SLO_SPEC.find("  # 99% of requests within 300 ms.").unwrap()];
    let (status, report) = post("/api/v1/slos/import?prune=true", without_latency.to_owned()).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(
        (report["slos_deleted"].as_i64(), report["groups_deleted"].as_i64()),
        (Some(1), Some(3)),
        "{report}"
    );
    let (_, _, file) = client.text("/api/v1/rules.yml", None).await;
    assert!(!file.contains("checkout-requests-latency"), "{file}");
    assert_eq!(app.rule_count(), 17);
}

fn availability_slo() -> Value {
    json!({
        "service": "checkout",
        "name": "requests-availability",
        "objective": 99.9,
        "sli": {"events": {
            "error_query": "sum(rate(http_requests_total{job=\"checkout\",code=~\"5..\"}[{{.window}}]))",
            "total_query": "sum(rate(http_requests_total{job=\"checkout\"}[{{.window}}]))",
        }},
        "labels": {"team": "payments"},
        "alerting": {"name": "CheckoutErrorBudgetBurn", "page": {"labels": {"route": "pager"}, "heal": true}},
    })
}

/// An SLO as a stored object: each write regenerates exactly its rules in one revision, a
/// disabled SLO has none, a rename moves its groups, restore brings back the SLO with its
/// rules, delete removes both; bad input names the field and stores nothing.
async fn slos_over_rest(app: TestApp) {
    let client = app.client();
    let (status, created) = client.post("/api/v1/slos", &availability_slo()).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["id"].as_i64().unwrap();
    assert_eq!(created["sloth_id"], "checkout-requests-availability");
    assert_eq!(created["period"], "30d", "defaults are filled in");
    assert_eq!(created["enabled"], true);
    assert_eq!(
        created["groups"],
        json!([
            "sloth-slo-sli-recordings-checkout-requests-availability",
            "sloth-slo-meta-recordings-checkout-requests-availability",
            "sloth-slo-alerts-checkout-requests-availability",
        ])
    );
    let report = &created["report"];
    assert_eq!((report["created"].as_i64(), report["slos_created"].as_i64()), (Some(17), Some(1)));
    let first_revision = report["revision"].as_i64().unwrap();
    assert_eq!(app.rule_count(), 17);
    let (_, _, file) = client.text("/api/v1/rules.yml", None).await;
    assert!(
        file.contains("alert: CheckoutErrorBudgetBurn")
            && file.contains("heal: \"true\"")
            && file.contains("expr: vector(0.9990000000000001)")
            && file.contains("team: payments"),
        "{file}"
    );
    test_support::assert_promtool_accepts(&file);
    let (status, listed) = client.get("/api/v1/slos").await;
    assert_eq!((status, listed["total"].as_i64()), (StatusCode::OK, Some(1)));
    let (status, fetched) = client.get(&format!("/api/v1/slos/{id}")).await;
    assert_eq!(status, StatusCode::OK, "{fetched}");
    assert_eq!(fetched["alerting"]["page"]["heal"], true);

    // A new objective: only the rules that carry it change, in one revision.
    let url = format!("/api/v1/slos/{id}");
    let mut tighter = availability_slo();
    tighter["objective"] = json!(99.95);
    let (status, updated) = client.send("PUT", &url, Some(&tighter)).await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    let report = &updated["report"];
    assert_eq!(report["slos_updated"], 1, "{report}");
    assert!(report["updated"].as_i64().unwrap() > 0 && report["created"] == 0, "{report}");
    assert_eq!(report["revision"].as_i64(), Some(first_revision + 1));
    let (_, _, file) = client.text("/api/v1/rules.yml", None).await;
    assert!(
        file.contains("expr: vector(0.9995)") && !file.contains("vector(0.9990000000000001)"),
        "{file}"
    );
    let (_, same) = client.send("PUT", &url, Some(&tighter)).await;
    assert_eq!(
        (same["report"]["slos_unchanged"].as_i64(), same["report"]["unchanged"].as_i64()),
        (Some(1), Some(17))
    );

    // Disabled: stored, no rules; enabled again: the rules are back.
    let mut disabled = tighter.clone();
    disabled["enabled"] = json!(false);
    let (status, off) = client.send("PUT", &url, Some(&disabled)).await;
    assert_eq!(status, StatusCode::OK, "{off}");
    assert_eq!(
        (off["groups"].clone(), off["report"]["groups_deleted"].as_i64()),
        (json!([]), Some(3))
    );
    assert_eq!(app.rule_count(), 0);
    let (_, _, file) = client.text("/api/v1/rules.yml", None).await;
    assert!(!file.contains("sloth"), "{file}");
    let (status, _) = client.send("PUT", &url, Some(&tighter)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(app.rule_count(), 17);

    // A rename moves the rules to the new groups and leaves none behind.
    let mut renamed = tighter.clone();
    renamed["name"] = json!("availability");
    let (status, moved) = client.send("PUT", &url, Some(&renamed)).await;
    assert_eq!(status, StatusCode::OK, "{moved}");
    assert_eq!(moved["sloth_id"], "checkout-availability");
    assert_eq!(moved["report"]["groups_deleted"], 3, "{moved}");
    let (_, _, file) = client.text("/api/v1/rules.yml", None).await;
    assert!(
        file.contains("sloth-slo-alerts-checkout-availability")
            && !file.contains("checkout-requests-availability"),
        "{file}"
    );
    assert_eq!(app.rule_count(), 17);

    // Bad input: each field named, nothing stored.
    let mut bad = availability_slo();
    bad["objective"] = json!(100);
    bad["sli"]["events"]["error_query"] = json!("sum(rate(errors[5m]))");
    bad["alerting"]["name"] = json!("not an alert name");
    let (status, body) = client.send("PUT", &url, Some(&bad)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    for field in ["objective", "sli.error_query", "alerting.name"] {
        assert!(body["fields"][field].is_string(), "{field}: {body}");
    }
    let mut missing_shard = availability_slo();
    missing_shard["datasource"] = json!(4242);
    let (status, body) = client.post("/api/v1/slos", &missing_shard).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body["fields"]["datasource"].as_str().unwrap().contains("4242"), "{body}");
    let mut typo = availability_slo();
    typo["objectiv"] = json!(99);
    let (status, body) = client.post("/api/v1/slos", &typo).await;
    assert!(
        status.is_client_error() && body["error"].as_str().unwrap().contains("objectiv"),
        "{body}"
    );
    let (status, body) = client.post("/api/v1/slos", &renamed).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(app.rule_count(), 17, "nothing stored from the refusals");
    let (status, _) = client.get("/api/v1/slos/999").await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // History lists each write; restoring the first brings back the SLO as created, with
    // its rules in their first groups.
    let (status, history) = client.get(&format!("/api/v1/slos/{id}/history")).await;
    assert_eq!(status, StatusCode::OK, "{history}");
    let actions: Vec<&str> = history["revisions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["update_slo", "update_slo", "update_slo", "update_slo", "create_slo"]);
    assert_eq!(history["revisions"][0]["after"]["sloth_id"], "checkout-availability");
    let restore = format!("/api/v1/revisions/{first_revision}/restore");
    let (status, restored) = client.send("POST", &restore, None).await;
    assert_eq!(status, StatusCode::OK, "{restored}");
    let (_, back) = client.get(&url).await;
    assert_eq!(
        (back["objective"].as_f64(), back["sloth_id"].as_str()),
        (Some(99.9), Some("checkout-requests-availability"))
    );
    let (_, _, file) = client.text("/api/v1/rules.yml", None).await;
    let (_, _, then) =
        client.text(&format!("/api/v1/rules.yml?revision={first_revision}"), None).await;
    assert_eq!(file, then, "the rules are the first revision's again");

    // Delete: the SLO and its rules go, in one revision.
    let (status, deleted) = client.send("DELETE", &url, None).await;
    assert_eq!(status, StatusCode::OK, "{deleted}");
    assert_eq!(
        (deleted["slos_deleted"].as_i64(), deleted["deleted"].as_i64()),
        (Some(1), Some(17))
    );
    assert_eq!(app.rule_count(), 0);
    let (status, _) = client.get(&url).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, history) = client.get(&format!("/api/v1/slos/{id}/history")).await;
    assert_eq!(
        (status, history["revisions"][0]["action"].as_str()),
        (StatusCode::OK, Some("delete_slo"))
    );
}

/// A `report` token (am-executor's `--report-to`) may report heal runs and nothing else:
/// not read them back, not read or write rules.
#[tokio::test]
async fn a_report_token_only_reports() {
    let app = TestApp::sqlite().with_tokens(&[
        ("executor", Scope::Report, "report-secret-1"),
        ("ops", Scope::Admin, "ops-secret-2"),
    ]);
    let reporter = app.client().with_token("report-secret-1");
    let run =
        json!({"time": "2026-12-04T10:00:00Z", "command": ["/bin/true"], "outcome": "succeeded"});
    let (status, body) = reporter.post("/api/v1/heal-runs", &run).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["reporter"], "executor");
    for (method, path) in
        [("GET", "/api/v1/heal-runs"), ("GET", "/api/v1/rules"), ("POST", "/api/v1/rules")]
    {
        let body = (method == "POST").then(|| json!({"expression": "up"}));
        let (status, answer) = reporter.send(method, path, body.as_ref()).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{method} {path}: {answer}");
    }
    let (status, listed) = app.client().with_token("ops-secret-2").get("/api/v1/heal-runs").await;
    assert_eq!((status, &listed["total"]), (StatusCode::OK, &json!(1)));
}
