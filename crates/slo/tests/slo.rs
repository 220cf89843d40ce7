//! The SLO generator: sloth's own test vector in, sloth's rules out; validation naming each
//! field; `promtool test rules` proving when the alerts fire; a real Prometheus loading and
//! evaluating the generated file.

use std::time::Duration;

use promrules_slo::{Slo, SloError, generate, sloth};

mod support;

/// sloth's integration-test input and its expected output (see the headers of both files:
/// `test/integration/prometheus/testdata/in-base.yaml` and `out-base.yaml.tpl` of
/// github.com/slok/sloth at commit 18caaea).
const SLOTH_IN: &str = include_str!("data/sloth-in-base.yaml");
const SLOTH_OUT: &str = include_str!("data/sloth-out-base.yaml");

#[test]
fn sloths_test_vector_gives_sloths_rules() {
    let slos = sloth::parse(SLOTH_IN, "sloth-in-base.yaml").unwrap();
    assert_eq!(slos.len(), 2);
    let groups = slos.iter().flat_map(|slo| generate(slo).unwrap()).collect();
    let rendered = support::render(groups);
    test_support::assert_promtool_accepts(&rendered);
    let ours = support::seen(&rendered, &["sloth_mode", "sloth_version"]);
    let sloths = support::seen(SLOTH_OUT, &[]);
    let names = |groups: &[(String, Vec<support::Seen>)]| {
        groups.iter().map(|(name, _)| name.clone()).collect::<Vec<_>>()
    };
    assert_eq!(names(&ours), names(&sloths));
    for ((group, our_rules), (_, their_rules)) in ours.iter().zip(&sloths) {
        assert_eq!(our_rules.len(), their_rules.len(), "{group}");
        for (ours, theirs) in our_rules.iter().zip(their_rules) {
            assert_eq!(ours, theirs, "{group} / {}", theirs.name);
        }
    }
}

fn checkout() -> Slo {
    let mut slo = Slo::events(
        "checkout",
        "availability",
        99.9,
        r#"sum(rate(requests_total{code="500"}[{{.window}}]))"#,
        "sum(rate(requests_total[{{.window}}]))",
    );
    slo.alerting.name = "CheckoutErrorBudgetBurn".into();
    slo.alerting.page.heal = true;
    slo
}

#[test]
fn a_bad_slo_names_each_field() {
    let mut slo = checkout();
    slo.objective = 100.0;
    slo.name = "bad name".into();
    slo.sli = promrules_slo::Sli::Events {
        error_query: "sum(rate(errors[5m]))".into(),
        total_query: "sum(rate(requests_total[{{.window}}])".into(),
    };
    let Err(SloError::Invalid { errors, .. }) = slo.validate() else { panic!("accepted") };
    let fields = errors.fields();
    assert!(fields["objective"].contains("below 100"), "{fields:?}");
    assert!(fields["name"].contains("`bad name`"), "{fields:?}");
    assert!(fields["sli.error_query"].contains("{{.window}}"), "{fields:?}");
    assert!(fields["sli.total_query"].contains("PromQL"), "{fields:?}");

    let mut slo = checkout();
    slo.alerting.name = "not an alert name".into();
    let Err(SloError::Invalid { errors, .. }) = slo.validate() else { panic!("accepted") };
    assert!(errors.fields().contains_key("alerting.name"), "{errors}");
    assert!(generate(&slo).is_err(), "generate checks first");
}

#[test]
fn sloth_specs_with_plugins_or_another_version_are_refused() {
    let plugin = SLOTH_IN.replace(
        "    sli:\n      events:\n        error_query: sum(rate(http_request_duration_seconds_count{job=\"myservice\",code=~\"(5..|429)\"}[{{.window}}]))\n        total_query: sum(rate(http_request_duration_seconds_count{job=\"myservice\"}[{{.window}}]))\n",
        "    sli:\n      plugin:\n        id: sloth-common/kubernetes/apiserver/availability\n",
    );
    assert_ne!(plugin, SLOTH_IN);
    let error = sloth::parse(&plugin, "plugin.yaml").unwrap_err().to_string();
    assert!(
        error.contains("`plugin.yaml`")
            && error.contains("SLO `svc01-slo1`")
            && error.contains("sloth-common/kubernetes/apiserver/availability"),
        "{error}"
    );
    let other = SLOTH_IN.replace("prometheus/v1", "openslo/v1alpha");
    let error = sloth::parse(&other, "openslo.yaml").unwrap_err().to_string();
    assert!(error.contains("`openslo/v1alpha` is not supported"), "{error}");
    let unknown = SLOTH_IN.replace("    objective: 95\n", "    objective: 95\n    objectiv: 96\n");
    let error = sloth::parse(&unknown, "typo.yaml").unwrap_err().to_string();
    assert!(error.contains("objectiv"), "{error}");
}

/// The labels and annotations of a firing alert of `checkout()` at `severity`.
fn firing(severity: &str) -> String {
    let heal = if severity == "page" { "\n        heal: \"true\"" } else { "" };
    format!(
        r#"    - exp_labels:
        alertname: CheckoutErrorBudgetBurn
        sloth_id: checkout-availability
        sloth_service: checkout
        sloth_slo: availability
        sloth_severity: {severity}{heal}
      exp_annotations:
        summary: checkout availability SLO error budget burn rate is over expected.
        title: ({severity}) checkout availability SLO error budget burn rate is too fast.
"#
    )
}

/// One promtool test: errors and successes per minute, and the alerts expected at times.
fn case(errors: &str, successes: &str, checks: &[(&str, &[&str])]) -> String {
    let mut text = format!(
        "- interval: 1m\n  input_series:\n  - series: 'requests_total{{code=\"500\"}}'\n    values: '{errors}'\n  - series: 'requests_total{{code=\"200\"}}'\n    values: '{successes}'\n  alert_rule_test:\n"
    );
    for (at, severities) in checks {
        text.push_str(&format!("  - eval_time: {at}\n    alertname: CheckoutErrorBudgetBurn\n"));
        if severities.is_empty() {
            text.push_str("    exp_alerts: []\n");
        } else {
            text.push_str("    exp_alerts:\n");
            for severity in *severities {
                text.push_str(&firing(severity));
            }
        }
    }
    text
}

/// promtool evaluates the generated rules over synthetic traffic, at a 99.9% objective
/// (a 0.1% error budget over 30 days).
#[test]
fn the_alerts_fire_when_they_should() {
    let rules = support::render(generate(&checkout()).unwrap());
    let cases = [
        // A total outage pages within minutes (and raises the ticket too).
        case("0+100x30", "0+0x30", &[("5m", &["page", "ticket"])]),
        // A steady burn at 2x the budget (0.2% errors): the ticket, never the page.
        case("0+2x480", "0+998x480", &[("1h", &["ticket"]), ("7h", &["ticket"])]),
        // No errors: nothing.
        case("0x480", "0+1000x480", &[("7h", &[])]),
        // A 3-minute spike of 50% errors an hour in: it pages while the short windows see it
        // (5m and 30m), not once both have passed it, though the long windows still do.
        case(
            "0x59 1000 2000 3000 3000x80",
            "0+1000x142",
            &[("58m", &[]), ("63m", &["page", "ticket"]), ("100m", &["ticket"])],
        ),
    ];
    let tests =
        format!("rule_files: [rules.yml]\nevaluation_interval: 1m\ntests:\n{}", cases.concat());
    if let Err(output) = support::promtool_test(&rules, &tests) {
        panic!("{output}\n--- tests.yml\n{tests}\n--- rules.yml\n{rules}");
    }
}

/// A real Prometheus loads the generated file and evaluates every rule without an error.
#[test]
fn prometheus_loads_and_evaluates_the_rules() {
    let host = test_support::SimHost::start(81, "");
    let rules = support::render(generate(&checkout()).unwrap());
    std::fs::write(host.rule_file(), &rules).unwrap();
    let reload = ureq::post(&format!("{}/-/reload", host.prometheus_url())).send_empty();
    assert!(reload.is_ok(), "{reload:?}");
    let evaluated = test_support::eventually(Duration::from_secs(30), || {
        let mut response =
            ureq::get(&format!("{}/api/v1/rules", host.prometheus_url())).call().ok()?;
        let body: serde_json::Value = response.body_mut().read_json().ok()?;
        let groups = body["data"]["groups"].as_array()?.clone();
        let rules: Vec<serde_json::Value> = groups
            .iter()
            .flat_map(|g| g["rules"].as_array().cloned().unwrap_or_default())
            .collect();
        let all_evaluated = rules.len() == 17
            && rules
                .iter()
                .all(|r| r["lastEvaluation"].as_str().is_some_and(|t| !t.starts_with("0001")));
        all_evaluated.then_some(rules)
    });
    let rules =
        evaluated.unwrap_or_else(|| panic!("not loaded and evaluated:\n{}", host.prometheus_log()));
    for rule in &rules {
        assert_eq!(rule["health"], "ok", "{rule}");
    }
    let mut response =
        ureq::get(&format!("{}/api/v1/query?query=slo:objective:ratio", host.prometheus_url()))
            .call()
            .unwrap();
    let body: serde_json::Value = response.body_mut().read_json().unwrap();
    assert_eq!(body["data"]["result"][0]["value"][1], "0.9990000000000001", "{body}");
}

/// A 28-day period: sloth's `out-base-28d.yaml.tpl` (commit 1c3336e) has the period ratio
/// over `4w`, `slo:time_period:days` 28, and burn factors 13.44, 5.6000000000000005,
/// 2.8000000000000003 and 0.9333333333333333, digit for digit.
#[test]
fn a_28_day_period_uses_sloths_windows_and_factors() {
    let mut slo = checkout();
    slo.period = promrules_slo::Period::Days28;
    let groups = generate(&slo).unwrap();
    let rules: Vec<&promrules_model::RuleSpec> = groups.iter().flat_map(|g| &g.rules).collect();
    let named = |name: &str| rules.iter().find(|r| r.name.as_deref() == Some(name)).unwrap();
    assert!(named("slo:sli_error:ratio_rate4w").expression.contains("[4w])"));
    assert_eq!(named("slo:time_period:days").expression, "vector(28)");
    let alerts: Vec<&str> = rules
        .iter()
        .filter(|r| r.kind == promrules_model::RuleKind::Alert)
        .map(|r| r.expression.as_str())
        .collect();
    for factor in
        ["(13.44 * ", "(5.6000000000000005 * ", "(2.8000000000000003 * ", "(0.9333333333333333 * "]
    {
        assert!(alerts.iter().any(|e| e.contains(factor)), "{factor} in {alerts:#?}");
    }
    test_support::assert_promtool_accepts(&support::render(groups));
}
