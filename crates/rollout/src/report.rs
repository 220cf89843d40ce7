//! The words and table a deploy ends with, for logs, the audit summary and terminals.

use std::fmt::Write;

use promrules_deploy::{HostReport, Outcome};

/// The terminal report of deployment `id`: each host's diff when `with_diff`, then a table
/// of hosts, outcomes, seconds and messages, then the summary line.
pub fn report_table(id: i64, reports: &[HostReport], with_diff: bool) -> String {
    let mut out = String::new();
    if with_diff {
        for report in reports {
            if let Some(diff) = report.diff_text.as_deref().filter(|d| !d.is_empty()) {
                let _ = writeln!(out, "--- {} ---\n{diff}", report.host);
            }
        }
    }
    let _ = writeln!(out, "{:<24} {:<12} {:>9}  MESSAGE", "HOST", "OUTCOME", "SECONDS");
    for report in reports {
        let _ = writeln!(
            out,
            "{:<24} {:<12} {:>9.2}  {}",
            report.host,
            report.outcome.as_str(),
            report.duration.as_secs_f64(),
            report.message
        );
    }
    let _ = writeln!(out, "deployment {id}: {}", summarize(reports));
    out
}

/// `3 host(s): 2 deployed, 1 unchanged`.
pub fn summarize(reports: &[HostReport]) -> String {
    let mut counts: Vec<(Outcome, usize)> = Vec::new();
    for report in reports {
        match counts.iter_mut().find(|(outcome, _)| *outcome == report.outcome) {
            Some((_, count)) => *count += 1,
            None => counts.push((report.outcome, 1)),
        }
    }
    let parts: Vec<String> =
        counts.iter().map(|(outcome, count)| format!("{count} {}", outcome.as_str())).collect();
    format!("{} host(s): {}", reports.len(), parts.join(", "))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn report(host: &str, outcome: Outcome, diff_text: Option<&str>) -> HostReport {
        HostReport {
            host: host.into(),
            outcome,
            message: format!("{host} says {}", outcome.as_str()),
            duration: Duration::from_millis(1_250),
            content_hash: String::new(),
            diff: Default::default(),
            diff_text: diff_text.map(str::to_owned),
            locked_at: 0.0,
            released_at: 0.0,
            targets_hash: None,
        }
    }

    #[test]
    fn report_table_lists_every_host_and_shows_diffs_only_when_asked() {
        let reports = [
            report("prom-a", Outcome::Deployed, Some("+  - alert: New\n")),
            report("prom-b", Outcome::Failed, None),
        ];
        let plain = report_table(7, &reports, false);
        assert_eq!(
            plain.lines().collect::<Vec<_>>(),
            [
                "HOST                     OUTCOME        SECONDS  MESSAGE",
                "prom-a                   deployed          1.25  prom-a says deployed",
                "prom-b                   failed            1.25  prom-b says failed",
                "deployment 7: 2 host(s): 1 deployed, 1 failed",
            ]
        );
        let with_diff = report_table(7, &reports, true);
        assert_eq!(with_diff, format!("--- prom-a ---\n+  - alert: New\n\n{plain}"));
    }
}
