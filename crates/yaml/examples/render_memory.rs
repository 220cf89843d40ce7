//! Peak memory of rendering 100,000 rules, against the size of the output.
//!
//! Run with: `cargo run --release -p promrules-yaml --example render_memory`
//!
//! The input is built first; then the kernel's peak-RSS mark is reset (`/proc/self/clear_refs`)
//! and read back (`VmHWM`) after the render, so the figure is what rendering itself added.

use promrules_yaml::{RenderOptions, render};

#[path = "../tests/support/corpus.rs"]
mod corpus;

fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("read /proc/self/status");
    let line =
        status.lines().find(|line| line.starts_with(field)).expect("field in /proc/self/status");
    line.split_whitespace().nth(1).and_then(|n| n.parse().ok()).expect("a number of kB")
}

fn main() {
    let (rules, groups) = corpus::corpus(100_000);
    std::fs::write("/proc/self/clear_refs", "5").expect("reset the peak RSS mark (Linux)");
    let before = status_kib("VmRSS:");
    let started = std::time::Instant::now();
    let text = render(&rules, &groups, &RenderOptions::default());
    let elapsed = started.elapsed();
    let peak = status_kib("VmHWM:");
    let added = (peak.saturating_sub(before)) * 1024;
    let output = text.len() as u64;
    #[allow(clippy::print_stdout, reason = "an example prints its measurement")]
    {
        println!("rules: {}", rules.len());
        println!("output: {output} bytes");
        println!("render: {elapsed:?}");
        println!(
            "peak memory added while rendering: {added} bytes = {:.2} x the output",
            added as f64 / output as f64
        );
    }
}
