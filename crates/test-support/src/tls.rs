//! Test certificates made with the `openssl` command: a throwaway CA, a certificate for
//! 127.0.0.1 and a client certificate that it signed, so that clients can verify servers as they would in
//! production, instead of turning verification off.

use std::path::{Path, PathBuf};
use std::process::Command;

/// A CA and a server certificate for `IP:127.0.0.1`, as PEM files in a temp directory
/// that lives as long as this value.
#[derive(Debug)]
pub struct Certificates {
    dir: tempfile::TempDir,
}

impl Certificates {
    /// Makes the CA (`ca.pem`), and the server's key and certificate, valid for a day.
    pub fn new() -> Certificates {
        let dir = tempfile::Builder::new().prefix("promrules-tls-").tempdir().expect("temp dir");
        let openssl = |args: &[&str]| {
            let output = Command::new("openssl")
                .args(args)
                .current_dir(dir.path())
                .output()
                .expect("openssl is missing: apt-get install openssl");
            assert!(
                output.status.success(),
                "openssl {args:?}: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        };
        let (new_key, one_day) = (["-newkey", "rsa:2048", "-nodes"], ["-days", "1"]);
        let ca = ["-subj", "/CN=promrules-test-ca", "-keyout", "ca.key", "-out", "ca.pem"];
        openssl(&[&["req", "-x509"][..], &new_key, &one_day, &ca].concat());
        // A key and a certificate signed by the CA, with one extension: `name.key`, `name.pem`.
        let signed = |name: &str, subject: &str, extension: &str| {
            let (key, csr, pem, cnf) = (
                format!("{name}.key"),
                format!("{name}.csr"),
                format!("{name}.pem"),
                format!("{name}.cnf"),
            );
            openssl(
                &[&["req"][..], &new_key, &["-subj", subject, "-keyout", &key, "-out", &csr]]
                    .concat(),
            );
            std::fs::write(dir.path().join(&cnf), format!("{extension}\n"))
                .expect("extension file");
            openssl(&[
                "x509",
                "-req",
                "-in",
                &csr,
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-days",
                "1",
                "-extfile",
                &cnf,
                "-out",
                &pem,
            ]);
        };
        signed("server", "/CN=127.0.0.1", "subjectAltName=IP:127.0.0.1");
        // A client certificate, for servers that ask for one (am-executor's `tls_client_ca`).
        signed("client", "/CN=alertmanager", "extendedKeyUsage=clientAuth");
        Certificates { dir }
    }

    /// A client certificate (CN `alertmanager`, for client authentication) signed by the CA.
    pub fn client_certificate(&self) -> PathBuf {
        self.dir.path().join("client.pem")
    }

    /// The client certificate's private key.
    pub fn client_key(&self) -> PathBuf {
        self.dir.path().join("client.key")
    }

    /// The CA certificate that clients trust.
    pub fn ca(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    /// The server certificate (for 127.0.0.1), signed by [`Certificates::ca`].
    pub fn server_certificate(&self) -> PathBuf {
        self.dir.path().join("server.pem")
    }

    /// The server certificate's private key.
    pub fn server_key(&self) -> PathBuf {
        self.dir.path().join("server.key")
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Default for Certificates {
    fn default() -> Certificates {
        Certificates::new()
    }
}
