//! The web UI without a browser: sign-in and sessions, CSRF, scopes, escaping, credential
//! redaction, validation beside the fields, and the rules list. The browser tests are in
//! `bins/promrules-server/tests/ui.rs`, against the real server.

mod support;

use axum::http::StatusCode;
use promrules_model::{GroupSpec, RuleFilter, RuleSpec};
use support::{ADMIN, READER, TestUi, WRITER};

#[tokio::test]
async fn signing_in_opens_a_strict_session_and_signing_out_ends_it() {
    let ui = TestUi::with_tokens();
    let mut visitor = ui.visitor();
    let away = visitor.get("/ui/rules?q=up").await;
    assert_eq!(away.status, StatusCode::SEE_OTHER);
    assert_eq!(away.location(), "/ui/signin?next=%2Fui%2Frules%3Fq%3Dup");
    assert_eq!(
        visitor.post_raw("/ui/rules", &[("expression", "up")]).await.status,
        StatusCode::UNAUTHORIZED
    );

    let wrong = visitor.sign_in("not-a-token").await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert!(wrong.body.contains("That token is not valid."), "{}", wrong.body);
    assert!(!wrong.body.contains("not-a-token"), "the attempt is not echoed");

    let signed_in = visitor.sign_in(ADMIN).await;
    assert_eq!(signed_in.status, StatusCode::SEE_OTHER, "{}", signed_in.body);
    assert_eq!(signed_in.location(), "/ui/rules");
    let session =
        signed_in.set_cookies().into_iter().find(|c| c.starts_with("promrules_session=")).unwrap();
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/ui", "Max-Age=28800"] {
        assert!(session.contains(attribute), "{session}");
    }
    assert!(!session.contains("Secure"), "plain HTTP: {session}");
    let page = visitor.get("/ui/rules").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("alice"), "the page names who is signed in");
    assert!(!page.body.contains(ADMIN), "the secret never reaches a page");

    assert_eq!(visitor.post("/ui/signout", &[]).await.location(), "/ui/signin");
    assert_eq!(visitor.get("/ui/rules").await.status, StatusCode::SEE_OTHER, "the session is gone");

    // A sign-in form posted from elsewhere lacks the matching cookie.
    let mut stranger = ui.visitor();
    let forged = stranger.post_raw("/ui/signin", &[("csrf", "0123"), ("token", ADMIN)]).await;
    assert_eq!(forged.status, StatusCode::BAD_REQUEST);
    assert!(forged.set_cookies().iter().all(|c| !c.starts_with("promrules_session=")));

    // A sign-in never sends a visitor to another site.
    let mut visitor = ui.visitor();
    visitor.get("/ui/signin").await;
    let elsewhere =
        visitor.post("/ui/signin", &[("token", WRITER), ("next", "//evil.example/")]).await;
    assert_eq!(elsewhere.location(), "/ui/rules");
}

#[tokio::test]
async fn under_tls_the_session_cookie_is_secure() {
    let tokens =
        vec![promrules_api::Token::new("alice", promrules_api::Scope::Admin, ADMIN).unwrap()];
    let web = promrules_web::WebConfig { secure_cookies: true, ..Default::default() };
    let ui = TestUi::with(tokens, web);
    let mut visitor = ui.visitor();
    let signed_in = visitor.sign_in(ADMIN).await;
    let session =
        signed_in.set_cookies().into_iter().find(|c| c.starts_with("promrules_session=")).unwrap();
    assert!(session.contains("; Secure"), "{session}");
}

#[tokio::test]
async fn without_tokens_there_is_no_sign_in_but_posts_still_need_the_csrf_token() {
    let ui = TestUi::open();
    let mut visitor = ui.visitor();
    let page = visitor.get("/ui/rules/new").await;
    assert_eq!(page.status, StatusCode::OK, "no sign-in without tokens");
    assert!(!page.body.contains("Sign out"));
    assert_eq!(visitor.get("/ui/signin").await.location(), "/ui/rules");

    let fields =
        [("kind", "alert"), ("name", "NoCsrf"), ("expression", "up == 0"), ("enabled", "true")];
    let refused = visitor.post_raw("/ui/rules", &fields).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert!(refused.body.contains("CSRF token is missing or stale"), "{}", refused.body);
    let mut forged = vec![("csrf", "f".repeat(64))];
    forged.extend(fields.iter().map(|(k, v)| (*k, v.to_string())));
    let forged: Vec<(&str, &str)> = forged.iter().map(|(k, v)| (*k, v.as_str())).collect();
    assert_eq!(visitor.post_raw("/ui/rules", &forged).await.status, StatusCode::BAD_REQUEST);
    // Another visitor's token does not work with this session.
    let mut other = ui.visitor();
    other.get("/ui/rules/new").await;
    other.csrf = visitor.csrf.clone();
    assert_eq!(other.post("/ui/rules", &fields).await.status, StatusCode::BAD_REQUEST);
    assert_eq!(ui.store.count_rules(&RuleFilter::default()).unwrap(), 0, "nothing was stored");

    let created = visitor.post("/ui/rules", &fields).await;
    assert_eq!(created.status, StatusCode::SEE_OTHER, "{}", created.body);
    let rules = ui.store.list_rules(&RuleFilter::default()).unwrap();
    assert_eq!(rules[0].display_name(), "NoCsrf");
    assert_eq!(created.location(), format!("/ui/rules/{}?saved=true", rules[0].id));
    let history = ui.store.rule_history(rules[0].id).unwrap();
    assert_eq!(history[0].actor, "ui", "the write is recorded under the UI's actor");
}

#[tokio::test]
async fn a_read_only_session_sees_no_write_controls_and_is_refused_if_it_posts() {
    let ui = TestUi::with_tokens();
    let group = ui.store.create_group(&GroupSpec::named("node")).unwrap();
    let rule = ui
        .store
        .create_rule(&RuleSpec {
            name: Some("DiskFull".into()),
            group_id: Some(group.id),
            ..RuleSpec::alert("up == 0")
        })
        .unwrap();
    let revision = ui.store.latest_revision().unwrap();
    let mut reader = ui.visitor();
    assert_eq!(reader.sign_in(READER).await.status, StatusCode::SEE_OTHER);
    for path in [
        "/ui/rules".to_owned(),
        format!("/ui/rules/{}", rule.id),
        "/ui/groups".to_owned(),
        format!("/ui/groups/{}", group.id),
        "/ui/history".to_owned(),
        format!("/ui/history/{revision}"),
        "/ui/hosts".to_owned(),
        "/ui/deployments".to_owned(),
        "/ui/targets".to_owned(),
    ] {
        let page = reader.get(&path).await;
        assert_eq!(page.status, StatusCode::OK, "{path}");
        let posts = page.body.matches("method=\"post\"").count();
        assert_eq!(posts, 1, "{path} holds only the sign-out form:\n{}", page.body);
        for control in [
            "New rule",
            "Disable",
            "Delete",
            "Restore",
            ">Deploy<",
            "Deploy…",
            "Deploy now",
            "hx-post",
            "type=\"submit\">Save",
        ] {
            assert!(!page.body.contains(control), "{path} shows `{control}`");
        }
    }
    for path in
        ["/ui/rules/new".to_owned(), "/ui/deploy".to_owned(), format!("/ui/rules/{}/test", rule.id)]
    {
        assert_eq!(reader.get(&path).await.status, StatusCode::FORBIDDEN, "{path}");
    }
    // Posting anyway, with a valid CSRF token, is refused and changes nothing.
    for (path, fields) in [
        (format!("/ui/rules/{}/enabled", rule.id), vec![("enabled", "false")]),
        ("/ui/rules".to_owned(), vec![("expression", "up")]),
        (format!("/ui/rules/{}", rule.id), vec![("expression", "up == 1")]),
        (format!("/ui/rules/{}/delete", rule.id), vec![]),
        (format!("/ui/history/{revision}/restore"), vec![]),
        ("/ui/groups".to_owned(), vec![("name", "new")]),
        ("/ui/deploy".to_owned(), vec![("host", "one")]),
        ("/ui/targets/shard".to_owned(), vec![("name", "s")]),
    ] {
        let answer = reader.post(&path, &fields).await;
        assert_eq!(answer.status, StatusCode::FORBIDDEN, "{path}: {}", answer.body);
        assert!(answer.body.contains("`rita` has scope `read`"), "{}", answer.body);
    }
    assert_eq!(ui.store.get_rule(rule.id).unwrap(), rule, "the rule is untouched");
    assert_eq!(ui.store.latest_revision().unwrap(), revision, "no revision was written");
    assert!(ui.store.list_shards().unwrap().is_empty());

    // A writer gets the controls (but no deploy).
    let mut writer = ui.visitor();
    writer.sign_in(WRITER).await;
    let page = writer.get("/ui/rules").await;
    assert!(page.body.contains("New rule") && page.body.contains("Disable"));
    assert!(!page.body.contains("href=\"/ui/deploy\""));
}

#[tokio::test]
async fn markup_in_names_labels_and_annotations_is_escaped_everywhere() {
    let ui = TestUi::open();
    let script = "<script>alert(1)</script>";
    let group = ui
        .store
        .create_group(&GroupSpec {
            labels: [("team".into(), script.into())].into(),
            ..GroupSpec::named("g")
        })
        .unwrap();
    let mut spec = RuleSpec {
        name: Some("Escaped".into()),
        group_id: Some(group.id),
        summary: script.into(),
        ..RuleSpec::alert("up == 0")
    };
    spec.annotations.insert("runbook".into(), format!("\"><img src=x onerror=alert(2)>{script}"));
    spec.labels.insert("owner".into(), script.into());
    let rule = ui.store.create_rule(&spec).unwrap();
    let revision = ui.store.latest_revision().unwrap();
    let mut visitor = ui.visitor();
    for path in [
        "/ui/rules".to_owned(),
        "/ui/rules?q=owner%3D%3Cscript%3E".to_owned(),
        format!("/ui/rules/{}", rule.id),
        "/ui/groups".to_owned(),
        format!("/ui/history/{revision}"),
    ] {
        let page = visitor.get(&path).await;
        assert_eq!(page.status, StatusCode::OK, "{path}");
        assert!(!page.body.contains("<script>alert"), "{path}:\n{}", page.body);
        assert!(!page.body.contains("<img"), "{path}");
        assert!(
            page.body.contains("&lt;script&gt;") || page.body.contains("&#60;script&#62;"),
            "{path}:\n{}",
            page.body
        );
    }
    let page = visitor.get(&format!("/ui/rules?q={}", "%3Cscript%3E%22")).await;
    assert!(!page.body.contains("<script>\""), "the search box echoes escaped");
    // Every answer tells the browser not to run inline script nor be framed.
    let csp = page.headers.get("content-security-policy").unwrap().to_str().unwrap();
    assert!(csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"), "{csp}");
    assert_eq!(page.headers.get("x-frame-options").unwrap(), "DENY");
    assert_eq!(page.headers.get("cache-control").unwrap(), "no-store");
}

#[tokio::test]
async fn host_credentials_never_reach_a_page() {
    let ui = TestUi::open();
    let host = serde_json::json!({
        "name": "prom-1", "address": "127.0.0.9", "rule_file": "/etc/prometheus/rules/promrules.yml",
        "prometheus_url": "http://127.0.0.9:9090",
        "prometheus_auth": {"bearer_token": "s3cret-bearer-token"},
        "identity_file": "/keys/s3cret-key-path",
    });
    ui.store.create_host("prom-1", &host).unwrap();
    let rule = ui.store.create_rule(&RuleSpec::alert("up == 0")).unwrap();
    let mut visitor = ui.visitor();
    for path in [
        "/ui/hosts".to_owned(),
        "/ui/hosts/prom-1".to_owned(),
        "/ui/deploy".to_owned(),
        format!("/ui/rules/{}/test", rule.id),
    ] {
        let page = visitor.get(&path).await;
        assert_eq!(page.status, StatusCode::OK, "{path}");
        assert!(page.body.contains("prom-1"), "{path} names the host");
        assert!(!page.body.contains("s3cret"), "{path}:\n{}", page.body);
    }
    assert_eq!(visitor.get("/ui/hosts/nope").await.status, StatusCode::NOT_FOUND);
    let page = visitor.get("/ui/hosts/prom-1").await;
    assert!(page.body.contains("none (rules without one)"), "no datasources is not all of them");
    assert!(page.body.contains("not pushed"), "no target file");
}

#[tokio::test]
async fn problems_are_shown_beside_the_field_they_name_and_nothing_is_lost() {
    let ui = TestUi::open();
    let mut visitor = ui.visitor();
    visitor.get("/ui/rules/new").await;
    let fields = [
        ("kind", "alert"),
        ("name", "Broken"),
        ("expression", "rate(up[5m]"),
        ("for", "5x"),
        ("enabled", "true"),
        ("label_key", "team"),
        ("label_value", "ops"),
    ];
    let answer = visitor.post("/ui/rules", &fields).await;
    assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY);
    let beside = |field: &str| {
        let start = answer.body.find(&format!("id=\"error-{field}\"")).unwrap();
        let text = &answer.body[start..];
        text[text.find('>').unwrap() + 1..text.find("</p>").unwrap()].to_owned()
    };
    assert!(!beside("expression").is_empty(), "{}", answer.body);
    assert!(beside("for").contains("5x"), "{}", beside("for"));
    assert!(beside("name").is_empty());
    assert!(answer.body.contains("rate(up[5m]</textarea>"), "what was typed is kept");
    assert!(answer.body.contains("value=\"team\"") && answer.body.contains("value=\"ops\""));
    assert!(answer.body.contains("aria-invalid=\"true\" aria-describedby=\"error-expression\""));
    assert_eq!(ui.store.count_rules(&RuleFilter::default()).unwrap(), 0);

    // As you type: the fragment swaps each field's error and the preview.
    let checked = visitor
        .post_htmx(
            "/ui/rules/check",
            &[("name", "Fine"), ("expression", "up == 0"), ("for", "5x"), ("enabled", "true")],
        )
        .await;
    assert_eq!(checked.status, StatusCode::OK);
    assert!(
        checked.body.contains("id=\"error-expression\" hx-swap-oob=\"true\"></p>"),
        "{}",
        checked.body
    );
    assert!(checked.body.contains("`5x` is not a Prometheus duration"), "{}", checked.body);
    assert!(checked.body.contains("- alert: Fine"), "the YAML preview: {}", checked.body);
    assert_eq!(ui.store.count_rules(&RuleFilter::default()).unwrap(), 0, "checking stores nothing");

    // A group name that is taken is reported beside the name.
    ui.store.create_group(&GroupSpec::named("node")).unwrap();
    visitor.get("/ui/groups/new").await;
    let taken = visitor.post("/ui/groups", &[("name", "node"), ("interval", "1m")]).await;
    assert_eq!(taken.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(taken.body.contains("already exists"), "{}", taken.body);
}

#[tokio::test]
async fn the_rules_list_searches_filters_sorts_and_pages() {
    let ui = TestUi::open();
    let mut visitor = ui.visitor();
    let empty = visitor.get("/ui/rules").await;
    assert!(empty.body.contains("No rules yet."), "the empty state says what to do");
    assert!(empty.body.contains("import a file"));
    for i in 0..120 {
        let mut spec = RuleSpec {
            name: Some(format!("Rule{i:03}")),
            heal_enabled: i % 10 == 0,
            ..RuleSpec::alert(format!("node_load{i} > 1"))
        };
        if i % 3 == 0 {
            spec.labels.insert("team".into(), "ops".into());
        }
        ui.store.create_rule(&spec).unwrap();
    }
    let rows = |body: &str| body.matches("<tr id=\"rule-").count();
    let first = visitor.get("/ui/rules").await;
    assert_eq!(rows(&first.body), 50);
    assert!(first.body.contains("Page 1 of 3"));
    let last = visitor.get("/ui/rules?page=3").await;
    assert_eq!(rows(&last.body), 20);
    let ops = visitor.get("/ui/rules?q=team%3Dops+load1").await;
    // Rules 0..119 with team=ops (i % 3 == 0) whose expression holds `load1`: 12, 15, 18, 102, …
    let expected =
        (0..120).filter(|i| i % 3 == 0 && format!("node_load{i}").contains("load1")).count();
    assert_eq!(rows(&ops.body), expected, "{}", ops.body);
    let healing = visitor.get("/ui/rules?heal=yes&sort=name").await;
    assert_eq!(rows(&healing.body), 12);
    let newest = visitor.get("/ui/rules?sort=updated").await;
    assert!(newest.body.find("Rule119").unwrap() < newest.body.find("Rule118").unwrap());
    let none = visitor.get("/ui/rules?q=nothing-matches-this").await;
    assert!(none.body.contains("No rule matches this search"));
    let bad = visitor.get("/ui/rules?enabled=maybe").await;
    assert!(bad.body.contains("`enabled` must be yes or no"), "a bad filter is named");

    // Enable/disable in place: htmx gets the row back, a plain form a redirect.
    let id = ui.store.list_rules(&RuleFilter::default()).unwrap()[0].id;
    let row = visitor
        .post_htmx(
            &format!("/ui/rules/{id}/enabled"),
            &[("enabled", "false"), ("return_to", "/ui/rules?page=1")],
        )
        .await;
    assert_eq!(row.status, StatusCode::OK);
    assert!(
        row.body.trim_start().starts_with(&format!("<tr id=\"rule-{id}\" class=\"disabled\"")),
        "{}",
        row.body
    );
    assert!(!ui.store.get_rule(id).unwrap().spec.enabled);
    let back = visitor
        .post(
            &format!("/ui/rules/{id}/enabled"),
            &[("enabled", "true"), ("return_to", "https://evil.example/")],
        )
        .await;
    assert_eq!(back.location(), "/ui/rules", "only pages of the UI are returned to");
    assert!(ui.store.get_rule(id).unwrap().spec.enabled);
}

#[tokio::test]
async fn the_root_redirects_assets_are_cached_and_unknown_pages_are_html() {
    let ui = TestUi::open();
    let mut visitor = ui.visitor();
    assert_eq!(visitor.get("/").await.location(), "/ui/");
    assert_eq!(visitor.get("/ui/").await.location(), "/ui/rules");
    let css = visitor.get("/ui/static/style.css").await;
    assert_eq!(css.status, StatusCode::OK);
    assert_eq!(css.headers.get("cache-control").unwrap(), "public, max-age=31536000, immutable");
    assert!(css.headers.get("content-type").unwrap().to_str().unwrap().starts_with("text/css"));
    assert!(visitor.get("/ui/static/htmx.min.js").await.body.contains("htmx"));
    assert_eq!(visitor.get("/ui/static/../Cargo.toml").await.status, StatusCode::NOT_FOUND);
    let missing = visitor.get("/ui/nowhere").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert!(missing.body.contains("<h1>404 Not Found</h1>"), "{}", missing.body);
    // The API is where it was.
    assert_eq!(visitor.get("/api/v1/rules").await.status, StatusCode::OK);
    assert!(visitor.get("/api/v1/nowhere").await.body.starts_with("{\"error\""));
}

#[tokio::test]
async fn an_admin_adds_and_edits_a_host_whose_secret_is_write_only() {
    let ui = TestUi::with_tokens();
    let mut writer = ui.visitor();
    writer.sign_in(WRITER).await;
    assert_eq!(writer.get("/ui/hosts/new").await.status, StatusCode::FORBIDDEN, "hosts need admin");
    assert!(!writer.get("/ui/hosts").await.body.contains("Add a host\n"), "no admin link");

    for name in ["eu-1", "eu-2"] {
        ui.store.create_shard(&promrules_model::Shard { name: name.into() }).unwrap();
    }
    let mut admin = ui.visitor();
    admin.sign_in(ADMIN).await;
    admin.get("/ui/hosts/new").await;
    let mut fields = vec![
        ("name", "prom-1"),
        ("address", "127.0.0.9"),
        ("ssh_port", "2222"),
        ("rule_file", "rules/promrules.yml"),
        ("prometheus_url", "http://127.0.0.9:9090"),
        ("reload", "http"),
        ("datasources", "1, 2"),
        ("auth", "bearer"),
        ("secret", "s3cret-bearer-token"),
    ];
    let refused = admin.post("/ui/hosts", &fields).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    let beside = &refused.body[refused.body.find("id=\"error-rule_file\"").unwrap()..];
    assert!(beside[..200].contains("absolute"), "{beside}");
    assert!(!refused.body.contains("s3cret"), "the secret is not echoed back");
    assert!(ui.store.list_hosts().unwrap().is_empty());

    fields[3] = ("rule_file", "/etc/prometheus/rules/promrules.yml");
    let added = admin.post("/ui/hosts", &fields).await;
    let main = |body: &str| body.split("<main").nth(1).unwrap_or_default().to_owned();
    assert_eq!(added.status, StatusCode::SEE_OTHER, "{}", main(&added.body));
    assert_eq!(added.location(), "/ui/hosts/prom-1");
    let stored = &ui.store.list_hosts().unwrap()[0];
    assert_eq!(stored.spec["prometheus_auth"]["bearer_token"], "s3cret-bearer-token");
    assert_eq!(stored.spec["datasources"], serde_json::json!([1, 2]));
    assert_eq!(stored.spec["host_key_policy"], "strict", "strict unless asked");

    // Editing shows every field but the secret; an empty secret keeps it.
    let form = admin.get("/ui/hosts/prom-1/edit").await;
    assert!(
        form.body.contains("value=\"2222\"")
            && form.body.contains("Stored; leave empty to keep it.")
    );
    assert!(!form.body.contains("s3cret"));
    let mut changed = fields.clone();
    changed[2] = ("ssh_port", "2223");
    changed[8] = ("secret", "");
    assert_eq!(admin.post("/ui/hosts/prom-1", &changed).await.status, StatusCode::SEE_OTHER);
    let stored = &ui.store.list_hosts().unwrap()[0];
    assert_eq!(stored.spec["ssh_port"], 2223);
    assert_eq!(stored.spec["prometheus_auth"]["bearer_token"], "s3cret-bearer-token", "kept");
    changed[7] = ("auth", "none");
    admin.get("/ui/hosts/prom-1/edit").await;
    assert_eq!(admin.post("/ui/hosts/prom-1", &changed).await.status, StatusCode::SEE_OTHER);
    assert!(ui.store.list_hosts().unwrap()[0].spec["prometheus_auth"].is_null(), "removed");

    // The pushed target file and where promtool runs: a verification without a file is
    // refused beside the checkbox, and both survive the next edit that does not touch them.
    admin.get("/ui/hosts/prom-1/edit").await;
    let mut pushed = changed.clone();
    pushed.extend([("verify_targets", "true"), ("remote_promtool", "never")]);
    let refused = admin.post("/ui/hosts/prom-1", &pushed).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    let beside = &refused.body[refused.body.find("id=\"error-verify_targets\"").unwrap()..];
    assert!(beside[..100].contains("needs a `targets_file`"), "{beside}");
    pushed.push(("targets_file", "/etc/prometheus/targets/promrules.json"));
    assert_eq!(admin.post("/ui/hosts/prom-1", &pushed).await.status, StatusCode::SEE_OTHER);
    let form = admin.get("/ui/hosts/prom-1/edit").await;
    assert!(form.body.contains("value=\"/etc/prometheus/targets/promrules.json\""));
    assert!(form.body.contains("<option value=\"never\" selected>"), "{}", form.body);
    let kept: Vec<(&str, &str)> = pushed
        .iter()
        .filter(|(field, _)| *field != "ssh_port")
        .copied()
        .chain([("ssh_port", "2224")])
        .collect();
    assert_eq!(admin.post("/ui/hosts/prom-1", &kept).await.status, StatusCode::SEE_OTHER);
    let stored = &ui.store.list_hosts().unwrap()[0].spec;
    assert_eq!(stored["targets_file"], "/etc/prometheus/targets/promrules.json");
    assert_eq!(
        (&stored["verify_targets"], &stored["remote_promtool"], &stored["ssh_port"]),
        (&serde_json::json!(true), &serde_json::json!("never"), &serde_json::json!(2224))
    );
    assert!(
        admin
            .get("/ui/hosts/prom-1")
            .await
            .body
            .contains("/etc/prometheus/targets/promrules.json (verified)")
    );

    admin.get("/ui/hosts/prom-1").await;
    assert_eq!(admin.post("/ui/hosts/prom-1/delete", &[]).await.location(), "/ui/hosts");
    assert!(ui.store.list_hosts().unwrap().is_empty());
}

/// A rule's page lists am-executor's reported runs for alerts of its name, newest first,
/// with what each did; reported text is escaped like everything else.
#[tokio::test]
async fn a_rules_page_shows_its_heal_runs() {
    let ui = TestUi::open();
    let spec = RuleSpec {
        name: Some("DiskFull".into()),
        heal_enabled: true,
        ..RuleSpec::alert("up == 0")
    };
    let rule = ui.store.create_rule(&spec).unwrap();
    let mut visitor = ui.visitor();
    let page = visitor.get(&format!("/ui/rules/{}", rule.id)).await;
    assert!(page.body.contains("No heal runs reported for alerts named DiskFull"), "{}", page.body);
    let run = |time: &str, outcome: &str, reason: Option<&str>| promrules_model::HealRunSpec {
        time: time.parse().unwrap(),
        command: vec!["/usr/local/bin/heal-disk.sh".into(), "<script>x</script>".into()],
        receiver: "am-executor".into(),
        group_key: String::new(),
        alertnames: vec!["DiskFull".into()],
        fingerprints: vec!["fp1".into()],
        outcome: outcome.into(),
        exit_code: (outcome != "skipped").then_some(if outcome == "failed" { 3 } else { 0 }),
        signal: None,
        duration_ms: Some(1500),
        reason: reason.map(str::to_owned),
    };
    ui.store.record_heal_run("executor-eu", &run("2026-12-01T10:00:00Z", "failed", None)).unwrap();
    ui.store
        .record_heal_run("executor-eu", &run("2026-12-02T10:00:00Z", "skipped", Some("cooldown")))
        .unwrap();
    let mut other = run("2026-12-03T10:00:00Z", "succeeded", None);
    other.alertnames = vec!["Other".into()];
    ui.store.record_heal_run("executor-eu", &other).unwrap();
    let page = visitor.get(&format!("/ui/rules/{}", rule.id)).await;
    let body = &page.body;
    let skipped = body.find(">skipped<").expect("the skip");
    let failed = body.find(">failed<").expect("the failure");
    assert!(skipped < failed, "newest first");
    assert!(!body.contains(">succeeded<"), "another alert's run is not this rule's");
    assert!(
        body.contains("exit 3, 1.5 s") && body.contains("cooldown") && body.contains("executor-eu"),
        "{body}"
    );
    let escaped = body.contains("&lt;script&gt;x") || body.contains("&#60;script&#62;x");
    assert!(!body.contains("<script>x") && escaped, "{body}");
}

/// The deployments page filters by age too: the choice stays selected and pages keep it;
/// an age it does not offer is a 400 naming `since`.
#[tokio::test]
async fn deployments_filter_by_age() {
    let ui = TestUi::open();
    let id = ui.store.start_deployment("ci", &serde_json::json!({})).unwrap();
    ui.store.finish_deployment(id, true, "0 host(s)").unwrap();
    let mut visitor = ui.visitor();
    let page = visitor.get("/ui/deployments?since=1h").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains(&format!("href=\"/ui/deployments/{id}\"")), "{}", page.body);
    assert!(
        page.body.contains("<option value=\"1h\" selected>the last hour</option>"),
        "{}",
        page.body
    );
    let page = visitor.get("/ui/deployments?since=1y").await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert!(page.body.contains("`since` must be one of 1h, 24h, 7d, 30d"), "{}", page.body);
}
