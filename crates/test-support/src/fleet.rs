//! Simulated Prometheus hosts: each has its own OpenSSH server (own config and host key,
//! bound to its own loopback address such as 127.0.0.11) and its own real Prometheus with
//! the lifecycle API, a data dir, and a rules directory loaded through `rule_files`.

use std::ffi::OsStr;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::process::{Service, free_port, wait_for_port};

/// One simulated host.
#[derive(Debug)]
pub struct SimHost {
    pub name: String,
    pub ip: String,
    pub ssh_port: u16,
    pub prometheus_port: u16,
    dir: tempfile::TempDir,
    prometheus_config: String,
    prometheus_flags: Vec<String>,
    sshd: Option<Service>,
    prometheus: Option<Service>,
}

/// The SSH client key every simulated host accepts, made once per test binary.
pub fn client_key() -> &'static Path {
    static KEY: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    let (_, path) = KEY.get_or_init(|| {
        let dir =
            tempfile::Builder::new().prefix("promrules-ssh-client-").tempdir().expect("temp dir");
        let path = dir.path().join("id_ed25519");
        keygen(&path);
        (dir, path)
    });
    path
}

fn keygen(path: &Path) {
    let output = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "promrules-test", "-f"])
        .arg(path)
        .output()
        .expect("ssh-keygen is missing: apt-get install openssh-client");
    assert!(
        output.status.success(),
        "ssh-keygen failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// In a [`SimHost`]'s extra configuration, its Prometheus's own `ip:port`.
pub const SELF: &str = "{self}";

/// In a [`SimHost`]'s extra configuration, its directory (where `targets/` is).
pub const DIR: &str = "{dir}";

impl SimHost {
    /// Starts host number `index` (address 127.0.0.`10 + index`); `extra_config` is added to
    /// its `prometheus.yml` (for example an `alerting:` section), with [`SELF`] standing for
    /// its Prometheus's own address (a self-scrape).
    pub fn start(index: u8, extra_config: &str) -> SimHost {
        SimHost::start_with_flags(index, extra_config, &[])
    }

    /// Hosts number `first` to `first + count - 1`, started twenty at a time.
    pub fn start_many(first: u8, count: u8, extra_config: &str) -> Vec<SimHost> {
        let indexes: Vec<u8> = (first..first + count).collect();
        let mut hosts = Vec::with_capacity(indexes.len());
        for chunk in indexes.chunks(20) {
            hosts.extend(std::thread::scope(|scope| {
                let starting: Vec<_> = chunk
                    .iter()
                    .map(|&index| scope.spawn(move || SimHost::start(index, extra_config)))
                    .collect();
                starting.into_iter().map(|h| h.join().expect("a host started")).collect::<Vec<_>>()
            }));
        }
        hosts
    }

    /// Like [`SimHost::start`], with extra Prometheus command-line flags.
    pub fn start_with_flags(index: u8, extra_config: &str, flags: &[&str]) -> SimHost {
        SimHost::start_full(index, None, extra_config, flags)
    }

    /// Like [`SimHost::start`], with its Prometheus on `port` (free on its address): hosts
    /// on one port at several addresses are what a name standing for all of them reaches.
    pub fn start_on_port(index: u8, port: u16) -> SimHost {
        SimHost::start_full(index, Some(port), "", &[])
    }

    /// The address of host number `index`.
    pub fn address_of(index: u8) -> String {
        format!("127.0.0.{}", 10 + u16::from(index))
    }

    fn start_full(index: u8, port: Option<u16>, extra_config: &str, flags: &[&str]) -> SimHost {
        let ip = SimHost::address_of(index);
        let dir = tempfile::Builder::new()
            .prefix(&format!("promrules-host{index}-"))
            .tempdir()
            .expect("temp dir");
        std::fs::create_dir_all(dir.path().join("rules")).expect("rules dir");
        std::fs::create_dir_all(dir.path().join("targets")).expect("targets dir");
        std::fs::write(dir.path().join("rules/promrules.yml"), "groups: []\n")
            .expect("initial rule file");
        let ssh_port = free_port(&ip);
        let prometheus_port = port.unwrap_or_else(|| free_port(&ip));
        let prometheus_config = format!(
            "global:\n  evaluation_interval: 1s\nrule_files:\n  - {}/rules/*.yml\n{}",
            dir.path().display(),
            extra_config
                .replace(SELF, &format!("{ip}:{prometheus_port}"))
                .replace(DIR, &dir.path().display().to_string())
        );
        let mut host = SimHost {
            name: format!("host{index}"),
            ssh_port,
            prometheus_port,
            ip,
            dir,
            prometheus_config,
            prometheus_flags: flags.iter().map(|f| f.to_string()).collect(),
            sshd: None,
            prometheus: None,
        };
        keygen(&host.dir.path().join("host_key"));
        let public = std::fs::read_to_string(format!("{}.pub", client_key().display()))
            .expect("client public key");
        std::fs::write(host.dir.path().join("authorized_keys"), public).expect("authorized_keys");
        host.start_sshd();
        host.start_prometheus();
        host
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The managed rule file.
    pub fn rule_file(&self) -> PathBuf {
        self.dir.path().join("rules/promrules.yml")
    }

    /// A target file a `file_sd_configs` of `files: ['{dir}/targets/*.json']` reads (see
    /// [`DIR`]); nothing is there at the start.
    pub fn targets_file(&self) -> PathBuf {
        self.dir.path().join("targets/promrules.json")
    }

    pub fn prometheus_url(&self) -> String {
        format!("http://{}:{}", self.ip, self.prometheus_port)
    }

    /// A known_hosts file holding this host's current key.
    pub fn known_hosts_file(&self) -> PathBuf {
        let path = self.dir.path().join("known_hosts");
        let key =
            std::fs::read_to_string(self.dir.path().join("host_key.pub")).expect("host public key");
        let mut fields = key.split_whitespace();
        let (kind, blob) = (fields.next().unwrap_or_default(), fields.next().unwrap_or_default());
        std::fs::write(&path, format!("[{}]:{} {kind} {blob}\n", self.ip, self.ssh_port))
            .expect("known_hosts");
        path
    }

    pub fn start_sshd(&mut self) {
        // sshd's privilege separation needs this directory; the package makes it at boot.
        let _ = std::fs::create_dir_all("/run/sshd");
        let dir = self.dir.path();
        let config = dir.join("sshd_config");
        std::fs::write(
            &config,
            format!(
                "Port {port}\nListenAddress {ip}\nHostKey {dir}/host_key\nPidFile {dir}/sshd.pid\nAuthorizedKeysFile {dir}/authorized_keys\n\
                 StrictModes no\nUsePAM no\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n\
                 PermitRootLogin prohibit-password\nSubsystem sftp internal-sftp\nLogLevel VERBOSE\nMaxStartups 100\n",
                port = self.ssh_port,
                ip = self.ip,
                dir = dir.display()
            ),
        )
        .expect("sshd_config");
        let sshd = PathBuf::from("/usr/sbin/sshd");
        assert!(sshd.exists(), "sshd is not installed: apt-get install openssh-server");
        let args: Vec<&OsStr> =
            vec!["-D".as_ref(), "-e".as_ref(), "-f".as_ref(), config.as_os_str()];
        let service =
            Service::start("sshd", &sshd, &args, &dir.join("sshd.log"), "TERM", None, None);
        let address: SocketAddr =
            format!("{}:{}", self.ip, self.ssh_port).parse().expect("address");
        if !wait_for_port(address, Duration::from_secs(20)) {
            service.fail("did not listen within 20 s");
        }
        self.sshd = Some(service);
    }

    /// A user other than root that may log in to this host with the test key (created on
    /// this machine when missing; the suite runs as root): what a deploy user without write
    /// access to the rules directory looks like.
    pub fn allow_unprivileged_login(&self) -> &'static str {
        const USER: &str = "promrules-deploy";
        let exists = Command::new("id").arg(USER).output().is_ok_and(|o| o.status.success());
        if !exists {
            // `*`: no password, and not locked (sshd refuses keys of a locked account).
            let created = Command::new("useradd")
                .args(["--no-create-home", "--shell", "/bin/sh", "--password", "*", USER])
                .status()
                .expect("useradd");
            assert!(created.success(), "useradd {USER} (the suite runs as root)");
        }
        // sshd reads the authorized keys as the user: let it through the host's directory.
        use std::os::unix::fs::PermissionsExt;
        let open = |path: &Path, mode: u32| {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod")
        };
        open(self.dir.path(), 0o755);
        open(&self.dir.path().join("authorized_keys"), 0o644);
        USER
    }

    /// How many SSH logins sshd has accepted (its log's `Accepted publickey` lines since it
    /// last started): what tells a new connection from a reused one.
    pub fn ssh_logins(&self) -> usize {
        std::fs::read_to_string(self.dir.path().join("sshd.log"))
            .map(|log| log.matches("Accepted publickey").count())
            .unwrap_or(0)
    }

    pub fn stop_sshd(&mut self) {
        self.sshd = None;
    }

    /// Replaces the host key and restarts sshd: what a reinstalled or impostor host looks like.
    pub fn change_host_key(&mut self) {
        self.stop_sshd();
        let key = self.dir.path().join("host_key");
        let _ = std::fs::remove_file(&key);
        let _ = std::fs::remove_file(key.with_extension("pub"));
        keygen(&key);
        self.start_sshd();
    }

    pub fn start_prometheus(&mut self) {
        let dir = self.dir.path();
        let config = dir.join("prometheus.yml");
        std::fs::write(&config, &self.prometheus_config).expect("prometheus.yml");
        let binary = PathBuf::from("/usr/bin/prometheus");
        assert!(binary.exists(), "Prometheus is not installed: apt-get install prometheus");
        let mut flags = vec![
            format!("--config.file={}", config.display()),
            format!("--storage.tsdb.path={}", dir.join("data").display()),
            format!("--web.listen-address={}:{}", self.ip, self.prometheus_port),
            "--web.enable-lifecycle".to_owned(),
        ];
        flags.extend(self.prometheus_flags.iter().cloned());
        let args: Vec<&OsStr> = flags.iter().map(OsStr::new).collect();
        let service = Service::start(
            "prometheus",
            &binary,
            &args,
            &dir.join("prometheus.log"),
            "TERM",
            None,
            None,
        );
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            // 401: ready, behind the basic auth of a `--web.config.file` flag.
            let answer = ureq::get(&format!("{}/-/ready", self.prometheus_url())).call();
            if matches!(answer, Ok(_) | Err(ureq::Error::StatusCode(401))) {
                self.prometheus = Some(service);
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        service.fail("was not ready within 60 s")
    }

    pub fn stop_prometheus(&mut self) {
        self.prometheus = None;
    }

    /// The names of the rules Prometheus serves from the managed file.
    pub fn loaded_rules(&self) -> Vec<String> {
        let url = format!("{}/api/v1/rules", self.prometheus_url());
        let mut response = ureq::get(&url).call().expect("GET /api/v1/rules");
        let text = response.body_mut().read_to_string().expect("rules body");
        let json: serde_json::Value = serde_json::from_str(&text).expect("rules JSON");
        let file = self.rule_file().display().to_string();
        json["data"]["groups"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|group| group["file"] == file.as_str())
            .flat_map(|group| group["rules"].as_array().cloned().unwrap_or_default())
            .filter_map(|rule| rule["name"].as_str().map(str::to_owned))
            .collect()
    }

    /// The reload success timestamp (through the Prometheus client): moves with each
    /// successful reload (sub-second precision).
    pub fn last_reload(&self) -> f64 {
        promrules_prometheus::Prometheus::new(&self.prometheus_url())
            .reload_state()
            .expect("the reload metrics")
            .success_timestamp
    }

    /// Prometheus's log, for failure messages.
    pub fn prometheus_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("prometheus.log")).unwrap_or_default()
    }
}
