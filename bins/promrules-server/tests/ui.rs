//! The web UI in a real browser: Debian's Chromium driven over WebDriver (chromedriver,
//! through fantoccini) against the real server and a simulated Prometheus host (real sshd
//! and Prometheus on loopback). One browser serves the whole binary; a missing chromium or
//! chromedriver fails the test.
//!
//! The screenshots it takes land in `target/ui-screenshots/`; with
//! `PROMRULES_UPDATE_SCREENSHOTS=1` also in `docs/ui/`, which the README links.

mod support;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};
use support::{Server, agent};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

const ADMIN: &str = "admin-secret-ui-1";
const DEPLOYER: &str = "deployer-secret-ui-2";
const READER: &str = "reader-secret-ui-3";

/// chromedriver on a free loopback port, stopped with the test.
struct Driver {
    child: Child,
    url: String,
}

impl Driver {
    fn start(dir: &Path) -> Driver {
        for program in [CHROMIUM, CHROMEDRIVER] {
            assert!(
                Path::new(program).exists(),
                "{program} is missing: run scripts/install-deps (Debian chromium and chromium-driver)"
            );
        }
        let port = test_support::free_port("127.0.0.1");
        let log = dir.join("chromedriver.log");
        let child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .arg(format!("--log-path={}", log.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting chromedriver");
        let address = format!("127.0.0.1:{port}").parse().unwrap();
        assert!(
            test_support::wait_for_port(address, Duration::from_secs(20)),
            "chromedriver did not listen on {address}"
        );
        Driver { child, url: format!("http://{address}") }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A headless Chromium session, 1024 px wide (the narrowest width the UI promises).
async fn browser(driver: &Driver, profile: &Path) -> Client {
    let mut capabilities = serde_json::Map::new();
    capabilities.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": CHROMIUM,
            "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1024,900", "--no-first-run", "--disable-extensions",
                format!("--user-data-dir={}", profile.display()),
            ],
        }),
    );
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    ClientBuilder::new(connector)
        .capabilities(capabilities)
        .connect(&driver.url)
        .await
        .expect("a WebDriver session with Chromium")
}

/// Waits until `locator` finds an element whose text satisfies `check`.
async fn wait_text(client: &Client, locator: Locator<'_>, check: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut last = String::new();
    while Instant::now() < deadline {
        if let Ok(element) = client.find(locator).await {
            last = element.text().await.unwrap_or_default();
            if check(&last) {
                return last;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let url = client.current_url().await.map(|u| u.to_string()).unwrap_or_default();
    panic!("{locator:?} never matched on {url}; last text: {last:?}");
}

async fn screenshot(client: &Client, name: &str) {
    let png = client.screenshot().await.unwrap();
    assert_eq!(&png[1..4], b"PNG", "{name} is a PNG");
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut dirs = vec![root.join("target/ui-screenshots")];
    if std::env::var_os("PROMRULES_UPDATE_SCREENSHOTS").is_some() {
        dirs.push(root.join("docs/ui"));
    }
    for dir in dirs {
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("{name}.png")), &png).unwrap();
    }
}

fn api(method: &str, url: &str, token: &str, body: Option<Value>) -> (u16, Value) {
    let request = ureq::http::Request::builder()
        .method(method)
        .uri(url)
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .body(body.map(|b| b.to_string()).unwrap_or_default())
        .unwrap();
    let mut response = agent().run(request).unwrap();
    let status = response.status().as_u16();
    let text = response.body_mut().read_to_string().unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

async fn sign_in(client: &Client, server: &Server, token: &str) {
    client.goto(&server.url("/ui/")).await.unwrap();
    let field = client.wait().for_element(Locator::Id("token")).await.unwrap();
    field.send_keys(token).await.unwrap();
    client.find(Locator::Css("button[type=submit]")).await.unwrap().click().await.unwrap();
    wait_text(client, Locator::Css("h1"), |text| text.starts_with("Rules")).await;
}

async fn click(client: &Client, css: &str) {
    client
        .find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .click()
        .await
        .unwrap();
}

/// The number in `/ui/rules/{id}?…` or `/ui/deployments/{id}`.
fn id_in(url: &str, prefix: &str) -> i64 {
    let rest = &url[url.find(prefix).unwrap() + prefix.len()..];
    rest.split(['?', '/', '#']).next().unwrap().parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_edits_tests_restores_and_deploys_a_rule_in_the_browser() {
    let dir = tempfile::tempdir().unwrap();
    let sim = test_support::SimHost::start(51, "");
    let tokens = dir.path().join("tokens");
    std::fs::write(
        &tokens,
        format!("ops admin {ADMIN}\nrelease deploy {DEPLOYER}\ndash read {READER}\n"),
    )
    .unwrap();
    let server = Server::start(dir.path(), &["--token-file", tokens.to_str().unwrap()]);
    let driver = Driver::start(dir.path());
    let client = browser(&driver, &dir.path().join("profile")).await;

    // Sign in; the empty state says what to do.
    sign_in(&client, &server, ADMIN).await;
    let empty = client.find(Locator::Css(".empty")).await.unwrap().text().await.unwrap();
    assert!(empty.contains("No rules yet"), "{empty}");

    // Add the host through the UI (its Prometheus token is write-only).
    client.goto(&server.url("/ui/hosts/new")).await.unwrap();
    client.wait().for_element(Locator::Id("name")).await.unwrap();
    let ssh_port = sim.ssh_port.to_string();
    let (key, known, rule_file, url) = (
        test_support::client_key().display().to_string(),
        sim.known_hosts_file().display().to_string(),
        sim.rule_file().display().to_string(),
        sim.prometheus_url(),
    );
    for (field, value) in [
        ("name", "prom-ui"),
        ("address", sim.ip.as_str()),
        ("ssh_port", ssh_port.as_str()),
        ("ssh_user", "root"),
        ("identity_file", key.as_str()),
        ("known_hosts_file", known.as_str()),
        ("rule_file", rule_file.as_str()),
        ("prometheus_url", url.as_str()),
        ("secret", "s3cret-of-the-host"),
    ] {
        let input = client.find(Locator::Id(field)).await.unwrap();
        input.clear().await.unwrap();
        input.send_keys(value).await.unwrap();
    }
    client.find(Locator::Id("auth")).await.unwrap().select_by_value("bearer").await.unwrap();
    click(&client, "form[action='/ui/hosts'] button[type=submit]").await;
    wait_text(&client, Locator::Css("h1"), |t| t == "Host prom-ui").await;
    assert!(!client.source().await.unwrap().contains("s3cret"));
    client.goto(&server.url("/ui/rules")).await.unwrap();

    // A broken expression: the error is shown beside the expression field.
    click(&client, "a[href='/ui/rules/new']").await;
    client.wait().for_element(Locator::Id("expression")).await.unwrap();
    client.find(Locator::Id("name")).await.unwrap().send_keys("BrowserRule").await.unwrap();
    let expression = client.find(Locator::Id("expression")).await.unwrap();
    expression.send_keys("rate(up[5m]").await.unwrap();
    // As you type: htmx fills in the error before anything is submitted.
    let live = wait_text(&client, Locator::Id("error-expression"), |t| !t.is_empty()).await;
    client.find(Locator::Id("for")).await.unwrap().send_keys("5x").await.unwrap();
    wait_text(&client, Locator::Id("error-for"), |t| t.contains("5x")).await;
    click(&client, ".rule-form button[type=submit]").await;
    let beside = wait_text(&client, Locator::Id("error-expression"), |t| !t.is_empty()).await;
    assert_eq!(beside, live, "the same message as you type and on submit");
    let invalid = expression_invalid(&client).await;
    assert_eq!(invalid.as_deref(), Some("true"));
    screenshot(&client, "rule-error").await;

    // Fixed, it is stored and shown with its YAML.
    let expression = client.find(Locator::Id("expression")).await.unwrap();
    expression.clear().await.unwrap();
    expression.send_keys("up{job=\"node\"} == 0").await.unwrap();
    let for_field = client.find(Locator::Id("for")).await.unwrap();
    for_field.clear().await.unwrap();
    for_field.send_keys("5m").await.unwrap();
    click(&client, ".rule-form button[type=submit]").await;
    wait_text(&client, Locator::Css(".flash"), |t| t.starts_with("Saved")).await;
    let url = client.current_url().await.unwrap().to_string();
    let id = id_in(&url, "/ui/rules/");
    let preview = client.find(Locator::Css("#preview pre")).await.unwrap().text().await.unwrap();
    assert!(preview.contains("- alert: BrowserRule") && preview.contains("for: 5m"), "{preview}");

    // Found in the list by search.
    for i in 0..3 {
        let other = json!({"name": format!("Other{i}"), "expression": "vector(1) > 0"});
        assert_eq!(api("POST", &server.url("/api/v1/rules"), ADMIN, Some(other)).0, 201);
    }
    client.goto(&server.url("/ui/rules")).await.unwrap();
    let search = client.wait().for_element(Locator::Css("input[name=q]")).await.unwrap();
    search.send_keys("browser").await.unwrap();
    click(&client, "form.filters button[type=submit]").await;
    wait_text(&client, Locator::Css("h1"), |t| t.contains("(1 of 4)")).await;
    let rows = client.find_all(Locator::Css("tbody tr")).await.unwrap();
    assert_eq!(rows.len(), 1);
    assert!(rows[0].text().await.unwrap().contains("BrowserRule"));
    let wide = client
        .execute("return document.documentElement.scrollWidth <= window.innerWidth;", vec![])
        .await
        .unwrap();
    assert_eq!(wide, Value::Bool(true), "the list fits 1024 px without scrolling sideways");
    screenshot(&client, "rules").await;

    // Edited, the change is a revision in its history, with a diff.
    let before_edit = api("GET", &server.url("/api/v1/revisions?limit=1"), ADMIN, None).1;
    let first_revision = before_edit["revisions"][0]["number"].as_i64().unwrap();
    client.goto(&server.url(&format!("/ui/rules/{id}"))).await.unwrap();
    client
        .wait()
        .for_element(Locator::Id("summary"))
        .await
        .unwrap()
        .send_keys("Edited in the browser")
        .await
        .unwrap();
    click(&client, ".rule-form button[type=submit]").await;
    wait_text(&client, Locator::Css(".flash"), |t| t.starts_with("Saved")).await;
    let latest = client.find(Locator::Css("#history + details")).await.unwrap();
    let summary = latest.find(Locator::Css("summary")).await.unwrap().text().await.unwrap();
    assert!(
        summary.contains(&format!("Revision {}", first_revision + 1)) && summary.contains("ops"),
        "{summary}"
    );
    let added = latest.find(Locator::Css(".diff .add")).await.unwrap().text().await.unwrap();
    assert!(added.contains("Edited in the browser"), "{added}");
    screenshot(&client, "rule").await;

    // Restore the earlier revision, through its confirmation step.
    client.goto(&server.url(&format!("/ui/history/{first_revision}"))).await.unwrap();
    client.wait().for_element(Locator::Id("restore")).await.unwrap().click().await.unwrap();
    client.wait().for_element(Locator::Id("confirm-restore")).await.unwrap().click().await.unwrap();
    wait_text(&client, Locator::Css(".flash"), |t| t.starts_with("Restored")).await;
    screenshot(&client, "history").await;
    let rule = api("GET", &server.url(&format!("/api/v1/rules/{id}")), ADMIN, None).1;
    assert_eq!(rule["summary"], "", "the summary is as it was: {rule}");

    // Test it against the host's Prometheus: `up{job="node"} == 0` matches nothing there.
    client.goto(&server.url(&format!("/ui/rules/{id}/test"))).await.unwrap();
    click(&client, "form.filters button[type=submit]").await;
    let verdict = wait_text(&client, Locator::Id("verdict"), |t| !t.is_empty()).await;
    assert_eq!(verdict, "not firing");

    // Preview the deploy: the host's diff, coloured.
    client.goto(&server.url("/ui/deploy")).await.unwrap();
    client.wait().for_element(Locator::Id("preview")).await.unwrap().click().await.unwrap();
    wait_text(&client, Locator::Css("h1"), |t| t.starts_with("Preview")).await;
    let added: Vec<String> = {
        let mut texts = Vec::new();
        for line in client.find_all(Locator::Css(".diff .add")).await.unwrap() {
            texts.push(line.text().await.unwrap());
        }
        texts
    };
    assert!(added.iter().any(|line| line.contains("alert: BrowserRule")), "{added:?}");
    let colour = client
        .find(Locator::Css(".diff .add"))
        .await
        .unwrap()
        .css_value("background-color")
        .await
        .unwrap();
    assert_ne!(colour, "rgba(0, 0, 0, 0)", "added lines are coloured");
    assert_eq!(
        std::fs::read_to_string(sim.rule_file()).unwrap(),
        "groups: []\n",
        "a preview changes nothing"
    );
    screenshot(&client, "deploy-preview").await;

    // Deploy: the page follows the progress to the result table.
    click(&client, "#deploy").await;
    wait_text(&client, Locator::Id("status"), |t| t == "succeeded").await;
    let url = client.current_url().await.unwrap().to_string();
    let deployment = id_in(&url, "/ui/deployments/");
    let result = client.find(Locator::Id("result-prom-ui")).await.unwrap().text().await.unwrap();
    let revision = api("GET", &server.url("/api/v1/revisions?limit=1"), ADMIN, None).1["revisions"]
        [0]["number"]
        .as_i64()
        .unwrap();
    assert!(result.contains("deployed") && result.contains(&revision.to_string()), "{result}");
    screenshot(&client, "deployment").await;
    assert!(sim.loaded_rules().contains(&"BrowserRule".to_owned()), "Prometheus runs it");

    // The host shows `deployed` with that revision; its credentials appear nowhere.
    client.goto(&server.url("/ui/hosts")).await.unwrap();
    let row = wait_text(&client, Locator::Id("host-prom-ui"), |t| t.contains("deployed")).await;
    assert!(row.contains(&format!("revision {revision}")), "{row}");
    assert!(!client.source().await.unwrap().contains("s3cret"));
    screenshot(&client, "hosts").await;
    client.goto(&server.url("/ui/deployments?host=prom-ui&outcome=deployed")).await.unwrap();
    let listed =
        client.wait().for_element(Locator::Css("tbody")).await.unwrap().text().await.unwrap();
    assert!(listed.contains(&deployment.to_string()), "{listed}");

    // Disable in place (htmx swaps the row).
    client.goto(&server.url("/ui/rules?q=Other0")).await.unwrap();
    click(&client, "tbody button[type=submit]").await;
    wait_text(&client, Locator::Css("tbody tr button"), |t| t == "Enable").await;
    let other = api("GET", &server.url("/api/v1/rules?q=Other0"), ADMIN, None).1;
    assert_eq!(other["rules"][0]["enabled"], false, "{other}");

    // Signed in read-only: no write controls anywhere.
    click(&client, "form[action='/ui/signout'] button").await;
    client.wait().for_element(Locator::Id("token")).await.unwrap();
    sign_in(&client, &server, READER).await;
    for path in [
        "/ui/rules".to_owned(),
        format!("/ui/rules/{id}"),
        "/ui/hosts".to_owned(),
        format!("/ui/history/{first_revision}"),
    ] {
        client.goto(&server.url(&path)).await.unwrap();
        client.wait().for_element(Locator::Css("main h1")).await.unwrap();
        // Buttons of GET forms (search, filters) are not write controls.
        let controls = client
            .execute(
                "return [...document.querySelectorAll('main button, main a.button, main [hx-post], \
                 main form[method=post]')].filter(e => !e.closest('form[method=get]')).length;",
                vec![],
            )
            .await
            .unwrap();
        assert_eq!(controls, json!(0), "{path} shows write controls");
    }
    client.close().await.unwrap();
}

async fn expression_invalid(client: &Client) -> Option<String> {
    client.find(Locator::Id("expression")).await.unwrap().attr("aria-invalid").await.unwrap()
}
