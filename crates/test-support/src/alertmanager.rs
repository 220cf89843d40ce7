//! A real Alertmanager (Debian `prometheus-alertmanager`) on 127.0.0.1.

use std::ffi::OsStr;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::process::{Service, free_port, wait_for_port};

/// An Alertmanager with its own configuration and storage, clustering off.
#[derive(Debug)]
pub struct Alertmanager {
    port: u16,
    service: Service,
    _dir: tempfile::TempDir,
}

impl Alertmanager {
    /// Starts Alertmanager with `config` (the text of `alertmanager.yml`).
    pub fn start(config: &str) -> Alertmanager {
        let binary = PathBuf::from("/usr/bin/prometheus-alertmanager");
        assert!(
            binary.exists(),
            "Alertmanager is not installed: apt-get install prometheus-alertmanager"
        );
        let dir = tempfile::Builder::new().prefix("promrules-am-").tempdir().expect("temp dir");
        let config_path = dir.path().join("alertmanager.yml");
        std::fs::write(&config_path, config).expect("write alertmanager.yml");
        let port = free_port("127.0.0.1");
        let flags = [
            format!("--config.file={}", config_path.display()),
            format!("--storage.path={}", dir.path().join("data").display()),
            format!("--web.listen-address=127.0.0.1:{port}"),
            "--cluster.listen-address=".to_owned(),
            "--log.level=debug".to_owned(),
        ];
        let args: Vec<&OsStr> = flags.iter().map(OsStr::new).collect();
        let service = Service::start(
            "alertmanager",
            &binary,
            &args,
            &dir.path().join("alertmanager.log"),
            "TERM",
            None,
            None,
        );
        let alertmanager = Alertmanager { port, service, _dir: dir };
        if !wait_for_port(SocketAddr::from(([127, 0, 0, 1], port)), Duration::from_secs(30)) {
            alertmanager.service.fail("did not listen within 30 s");
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if ureq::get(&alertmanager.url("/-/ready")).call().is_ok() {
                return alertmanager;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        alertmanager.service.fail("was not ready within 30 s")
    }

    /// `http://127.0.0.1:<port><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Posts alerts (a JSON array in the API v2 shape) to `/api/v2/alerts`.
    pub fn post_alerts(&self, alerts_json: &str) {
        let response = ureq::post(&self.url("/api/v2/alerts"))
            .header("Content-Type", "application/json")
            .send(alerts_json)
            .unwrap_or_else(|e| {
                panic!("posting alerts to Alertmanager failed: {e}\n{}", self.service.log())
            });
        assert_eq!(response.status(), 200);
    }

    /// Alertmanager's webhook notifications so far: `(sent, failed)`, summed over its
    /// receivers (`alertmanager_notifications_total` and `…_failed_total`).
    pub fn webhook_notifications(&self) -> (f64, f64) {
        let Ok(mut response) = ureq::get(&self.url("/metrics")).call() else { return (0.0, 0.0) };
        let text = response.body_mut().read_to_string().unwrap_or_default();
        let sum = |name: &str| -> f64 {
            text.lines()
                .filter(|line| line.starts_with(name) && line.contains("integration=\"webhook\""))
                .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
                .sum()
        };
        (sum("alertmanager_notifications_total{"), sum("alertmanager_notifications_failed_total{"))
    }

    /// Alertmanager's log so far.
    pub fn log(&self) -> String {
        self.service.log()
    }
}
