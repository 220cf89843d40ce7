//! A Prometheus behind basic auth, shared by the tests of this binary, and a logger that
//! keeps every record so that tests can look for secrets in them.

use std::sync::{Mutex, OnceLock};

use test_support::SimHost;

/// The basic-auth password of [`prometheus`]; never to appear in any output.
pub(crate) const PASSWORD: &str = "s3cret";

/// One real Prometheus for the whole binary, behind `--web.config.file` basic auth
/// (user `promrules`, password [`PASSWORD`]).
pub(crate) fn prometheus() -> &'static Mutex<SimHost> {
    static HOST: OnceLock<Mutex<SimHost>> = OnceLock::new();
    HOST.get_or_init(|| {
        let dir = tempfile::tempdir().expect("temp dir");
        let web_config = dir.keep().join("web.yml");
        // bcrypt (cost 4, to keep each request cheap) of "s3cret".
        std::fs::write(
            &web_config,
            "basic_auth_users:\n  promrules: $2b$04$lh0bh11flk5nQacFl8sKZu3IffC3Pmj1PJQ5Fnn.3nAMhPNk9XbDW\n",
        )
        .expect("web config");
        let flag = format!("--web.config.file={}", web_config.display());
        Mutex::new(SimHost::start_with_flags(1, "", &[&flag]))
    })
}

/// Every log record of this process, at every level, as `target: message`.
pub(crate) fn log_lines() -> Vec<String> {
    LOGGER.lines.lock().unwrap().clone()
}

/// Installs the recording logger at trace level (once).
pub(crate) fn record_logs() {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        log::set_logger(&LOGGER).expect("no other logger");
        log::set_max_level(log::LevelFilter::Trace);
    });
}

struct Recorder {
    lines: Mutex<Vec<String>>,
}

static LOGGER: Recorder = Recorder { lines: Mutex::new(Vec::new()) };

impl log::Log for Recorder {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }

    fn log(&self, record: &log::Record<'_>) {
        let line = format!("{}: {}", record.target(), record.args());
        self.lines.lock().unwrap().push(line);
    }

    fn flush(&self) {}
}
