//! The embed example as a user runs it: twice on one database file (the second run changes
//! nothing), and with `--help` (a usage line, not a database named `--help`).

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_promrules-example-embed");

fn run(dir: &std::path::Path, args: &[&str]) -> (bool, String) {
    let output = Command::new(BIN).current_dir(dir).args(args).output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

#[test]
fn runs_twice_on_one_database_and_explains_itself() {
    let dir = tempfile::tempdir().unwrap();
    let (ok, first) = run(dir.path(), &["rules.db"]);
    assert!(ok && first.contains("imported: created 2, updated 0, unchanged 0"), "{first}");
    assert!(first.contains("- alert: DiskFull") && first.contains("refused: "), "{first}");
    let (ok, second) = run(dir.path(), &["rules.db"]);
    assert!(ok && second.contains("imported: created 0, updated 0, unchanged 2"), "{second}");
    assert_eq!(
        first.replace("created 2, updated 0, unchanged 0", "created 0, updated 0, unchanged 2"),
        second
    );

    let (ok, help) = run(dir.path(), &["--help"]);
    assert!(ok && help.starts_with("usage: "), "{help}");
    assert!(!dir.path().join("--help").exists(), "no database named after the flag");
}
