#!/usr/bin/env bash
# am-executor throughput over loopback, with ApacheBench: firing webhooks whose command is
# /bin/true (the request answers once the command has exited, so each request's latency is
# request-to-command-start plus a process's whole life), one sender and 50 concurrent
# senders; and, for comparison, how fast this machine starts /bin/true at all. Then, side by
# side in the same run, 50 senders of distinct notifications (wrk, distinct.lua) against the
# plain configuration and against one with dedup_window and --audit-log on.
#
# Run with: crates/executor/benches/webhook.sh      (figures go to docs/benchmarks.md by hand)
set -euo pipefail
cd "$(dirname "$0")/../../.."

command -v ab >/dev/null && command -v wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq apache2-utils wrk >/dev/null; }
cargo build --release -q -p am-executor
work=$(mktemp -d)
trap 'kill "${pid:-}" 2>/dev/null || true; rm -rf "$work"' EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
printf 'commands:\n  - cmd: /bin/true\n' > "$work/executor.yml"
RUST_LOG=warn target/release/am-executor -f "$work/executor.yml" -l "127.0.0.1:$port" &
pid=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/_health" >/dev/null && break; sleep 0.1; done

echo "== process creation alone: /bin/true started and waited for, one after another"
python3 - <<'PY'
import subprocess, time
n = 2000
t = time.time()
for _ in range(n):
    subprocess.run(["/bin/true"])
print(f"  {n / (time.time() - t):.0f} processes/s")
PY

for senders in 1 50; do
  echo "== $senders sender(s), 5,000 firing webhooks"
  ab -q -k -n 5000 -c "$senders" -e "$work/p.csv" -p crates/executor/benches/webhook.json -T application/json \
    "http://127.0.0.1:$port/" | grep -E "Complete requests|Non-2xx|Requests per second"
  awk -F, '$1==50 || $1==90 || $1==99 {printf "  p%s %.2f ms\n", $1, $2}' "$work/p.csv"
done
echo "== commands run: $(curl -s "http://127.0.0.1:$port/metrics" | awk '/^am_executor_process_duration_seconds_count/ {print $2}')"

# Plain against dedup_window + audit log, each a fresh executor, 50 senders of distinct
# notifications for 10 s (every one runs its command).
printf 'commands:\n  - cmd: /bin/true\n    dedup_window: 10m\n' > "$work/dedup.yml"
run_wrk() { # name, config, extra flags...
  local name=$1 config=$2; shift 2
  kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true
  RUST_LOG=warn target/release/am-executor -f "$config" -l "127.0.0.1:$port" "$@" &
  pid=$!
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/_health" >/dev/null && break; sleep 0.1; done
  echo "== $name: 50 senders, distinct notifications, 10 s"
  wrk -t2 -c50 -d10s --latency -s crates/executor/benches/distinct.lua "http://127.0.0.1:$port/" \
    | grep -E "Requests/sec|Non-2xx| 50%| 90%| 99%"
  echo "  commands run: $(curl -s "http://127.0.0.1:$port/metrics" | awk '/^am_executor_process_duration_seconds_count/ {print $2}')"
}
run_wrk "plain" "$work/executor.yml"
run_wrk "dedup_window + --audit-log" "$work/dedup.yml" --audit-log "$work/audit.jsonl"
echo "  audit lines: $(wc -l < "$work/audit.jsonl")"
run_wrk "plain again" "$work/executor.yml"
