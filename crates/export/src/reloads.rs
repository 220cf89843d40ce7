//! The Prometheus servers an export reloads after a change: one, several (`--reload`
//! repeated: an HA pair reading the same file), or every address a name stands for at the
//! time of the reload (`--reload-all-addresses`: Docker Swarm's `tasks.prometheus`, a
//! headless Kubernetes service). All are reloaded and verified at once, each on its own
//! thread (the client is blocking; a reload of a large file takes seconds, so one after
//! another would add them up); the round fails if any fails, and the error names each that
//! did.

use promrules_prometheus::Prometheus;

use crate::ExportError;

/// The servers to reload; empty reloads nothing.
#[derive(Debug, Clone, Default)]
pub struct Reloads {
    pub servers: Vec<Prometheus>,
    /// A URL whose host is a name stands for every address it resolves to.
    pub all_addresses: bool,
}

impl Reloads {
    /// One server.
    pub fn one(prometheus: Prometheus) -> Reloads {
        Reloads { servers: vec![prometheus], all_addresses: false }
    }

    pub fn is_empty(&self) -> bool {
        self.servers.is_empty()
    }

    /// The servers to reload now: with `all_addresses`, each name resolved afresh.
    fn now(&self) -> Result<Vec<Prometheus>, ExportError> {
        if !self.all_addresses {
            return Ok(self.servers.clone());
        }
        let mut each = Vec::new();
        for prometheus in &self.servers {
            let addresses = prometheus.each_address().map_err(|source| ExportError::Reload {
                url: prometheus.url().to_owned(),
                source,
            })?;
            each.extend(addresses);
        }
        Ok(each)
    }

    /// Checks that every server answers (before a rule file is replaced).
    pub fn reachable(&self) -> Result<(), ExportError> {
        let servers = self.now()?;
        for (prometheus, answer) in servers.iter().zip(each(&servers, Prometheus::reload_state)) {
            answer.map_err(|source| failed(prometheus, source))?;
        }
        Ok(())
    }

    /// Reloads and verifies every server; their URLs, or the failure of each that failed.
    pub fn reload(&self) -> Result<Vec<String>, ExportError> {
        let servers = self.now()?;
        let (mut reloaded, mut failures) = (Vec::new(), Vec::new());
        for (prometheus, answer) in servers.iter().zip(each(&servers, Prometheus::reload)) {
            match answer {
                Ok(()) => {
                    if servers.len() > 1 {
                        log::info!("reloaded and verified {}", prometheus.url());
                    }
                    reloaded.push(prometheus.url().to_owned());
                }
                Err(source) => failures.push(failed(prometheus, source)),
            }
        }
        match failures.len() {
            0 => Ok(reloaded),
            1 if servers.len() == 1 => Err(failures.remove(0)),
            _ => Err(ExportError::Reloads { failures, reloaded }),
        }
    }

    /// The configured URLs, for a log line.
    pub fn describe(&self) -> String {
        let urls: Vec<&str> = self.servers.iter().map(Prometheus::url).collect();
        let each = if self.all_addresses { " (each address)" } else { "" };
        format!("{}{each}", urls.join(", "))
    }
}

/// `call` on every server at once, one thread each (none for a single server); the answers
/// in the servers' order.
fn each<T: Send>(
    servers: &[Prometheus],
    call: impl Fn(&Prometheus) -> Result<T, promrules_prometheus::PrometheusError> + Sync,
) -> Vec<Result<T, promrules_prometheus::PrometheusError>> {
    if let [one] = servers {
        return vec![call(one)];
    }
    std::thread::scope(|scope| {
        let call = &call;
        let running: Vec<_> =
            servers.iter().map(|prometheus| scope.spawn(move || call(prometheus))).collect();
        running.into_iter().map(|thread| thread.join().expect("a reload thread")).collect()
    })
}

fn failed(prometheus: &Prometheus, source: promrules_prometheus::PrometheusError) -> ExportError {
    ExportError::Reload { url: prometheus.url().to_owned(), source }
}
