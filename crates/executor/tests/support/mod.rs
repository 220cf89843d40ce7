//! An executor served in-process on a loopback port, and helpers to talk to it.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use promrules_executor::{Config, Executor, Listen, WebhookAuth, serve};

pub(crate) struct TestExecutor {
    pub(crate) address: SocketAddr,
    scheme: &'static str,
    pub(crate) executor: Arc<Executor>,
    pub(crate) dir: tempfile::TempDir,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl TestExecutor {
    /// Serves `config` (YAML; `$DIR` is replaced by a fresh temp dir) on 127.0.0.1.
    pub(crate) fn start(config: &str) -> TestExecutor {
        TestExecutor::start_with_limit(config, promrules_executor::DEFAULT_BODY_LIMIT)
    }

    pub(crate) fn start_with_limit(config: &str, body_limit: usize) -> TestExecutor {
        let dir = tempfile::tempdir().unwrap();
        let config = config.replace("$DIR", dir.path().to_str().unwrap());
        let (config, warnings) = Config::parse(&config).unwrap();
        assert!(warnings.is_empty(), "{warnings:?}");
        let auth = config.webhook_auth.as_ref().and_then(|auth| WebhookAuth::load(auth).unwrap());
        let tls =
            promrules_executor::tls_files(config.tls_crt.as_deref(), config.tls_key.as_deref())
                .unwrap();
        let scheme = if tls.is_some() { "https" } else { "http" };
        let client_ca = config.tls_client_ca.clone().map(PathBuf::from);
        let executor = Arc::new(Executor::new(&config));
        // Bound here, on a port the system picks: nothing can take it before the server runs.
        let socket = promrules_executor::bind(SocketAddr::from(([127, 0, 0, 1], 0))).unwrap();
        let address = socket.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let serving = Arc::clone(&executor);
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Runtime::new().unwrap();
            let listen = Listen { auth, tls, client_ca, ..Listen::default() };
            runtime
                .block_on(serve(
                    serving,
                    socket,
                    listen,
                    body_limit,
                    Duration::from_secs(2),
                    async {
                        let _ = stopped.await;
                    },
                ))
                .unwrap();
        });
        TestExecutor { address, scheme, executor, dir, stop: Some(stop), thread: Some(thread) }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}://{}{path}", self.scheme, self.address)
    }

    pub(crate) fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Sends a webhook body; returns the status and the body text.
    pub(crate) fn send(&self, method: &str, body: &str) -> (u16, String) {
        send(&self.url("/"), method, body)
    }

    /// A metric's value from `/metrics`, by its full line prefix (name and labels).
    pub(crate) fn metric(&self, series: &str) -> f64 {
        let text =
            ureq::get(&self.url("/metrics")).call().unwrap().body_mut().read_to_string().unwrap();
        text.lines()
            .find_map(|line| line.strip_prefix(series).and_then(|rest| rest.strip_prefix(' ')))
            .unwrap_or_else(|| panic!("no `{series}` in:\n{text}"))
            .parse()
            .unwrap()
    }
}

impl TestExecutor {
    /// Stops serving, as on SIGTERM: waits the 2 s grace, signals, returns when done.
    pub(crate) fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for TestExecutor {
    fn drop(&mut self) {
        self.stop();
    }
}

pub(crate) fn send(url: &str, method: &str, body: &str) -> (u16, String) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .allow_non_standard_methods(true)
        .build()
        .into();
    let request = http_request(method, url, body);
    let mut response = agent.run(request).unwrap();
    (response.status().as_u16(), response.body_mut().read_to_string().unwrap())
}

fn http_request(method: &str, url: &str, body: &str) -> ureq::http::Request<String> {
    ureq::http::Request::builder()
        .method(method)
        .uri(url)
        .header("Content-Type", "application/json")
        .body(body.to_owned())
        .unwrap()
}

/// Waits until `path` exists (a command wrote it), or panics after `limit`.
pub(crate) fn wait_for_file(path: &Path, limit: Duration) -> String {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if let Ok(text) = std::fs::read_to_string(path)
            && !text.is_empty()
        {
            return text;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("{} was not written within {limit:?}", path.display())
}

/// Whether process `pid` is gone (or only a zombie waiting to be reaped).
pub(crate) fn process_gone(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/status")) {
        Err(_) => true,
        Ok(status) => status.lines().any(|line| line.starts_with("State:") && line.contains('Z')),
    }
}

/// Writes an executable shell script.
pub(crate) fn script(path: &Path, body: &str) -> String {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path.to_str().unwrap().to_owned()
}
