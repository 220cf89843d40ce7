#!/usr/bin/env bash
# am-executor throughput over loopback, with ApacheBench: firing webhooks whose command is
# /bin/true (the request answers once the command has exited, so each request's latency is
# request-to-command-start plus a process's whole life), one sender and 50 concurrent
# senders; and, for comparison, how fast this machine starts /bin/true at all.
#
# The original prometheus-am-executor is measured in the same run, alternating with ours
# round by round (the medians compared), when AMX_ORIGINAL names a build of it (Go; it is never built or committed by this
# repository: docs/benchmarks.md says how the figures' build was made). Without it the run
# says so and measures ours alone.
#
# Then, side by side in the same run, 50 senders of distinct notifications (wrk,
# distinct.lua) against the plain configuration and against one with dedup_window and
# --audit-log on, alternating plain, dedup, plain, dedup, so that drift of the shared
# machine falls on both.
#
# Run with: [AMX_ORIGINAL=/path/to/prometheus-am-executor] crates/executor/benches/webhook.sh
# (figures go to docs/benchmarks.md by hand)
set -euo pipefail
cd "$(dirname "$0")/../../.."

command -v ab >/dev/null && command -v wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq apache2-utils wrk >/dev/null; }
cargo build --release -q -p am-executor
work=$(mktemp -d)
trap 'kill "${pid:-}" 2>/dev/null || true; rm -rf "$work"' EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
printf 'commands:\n  - cmd: /bin/true\n' > "$work/executor.yml"
printf 'commands:\n  - cmd: /bin/true\n    dedup_window: 10m\n' > "$work/dedup.yml"

# start BINARY CONFIG [FLAGS...]: (re)starts an executor on $port and waits for its health.
start() {
  local binary=$1 config=$2; shift 2
  kill "${pid:-}" 2>/dev/null || true; wait "${pid:-}" 2>/dev/null || true
  RUST_LOG=warn "$binary" -f "$config" -l "127.0.0.1:$port" "$@" 2>"$work/stderr" &
  pid=$!
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/_health" >/dev/null && return; sleep 0.1; done
  echo "executor did not start: $(cat "$work/stderr")" >&2
  exit 1
}

echo "== process creation alone: /bin/true started and waited for, one after another"
python3 - <<'PY'
import subprocess, time
n = 2000
t = time.time()
for _ in range(n):
    subprocess.run(["/bin/true"])
print(f"  {n / (time.time() - t):.0f} processes/s")
PY

# ab_run NAME SENDERS: 5,000 firing webhooks against the running executor; the line of
# figures also goes to $work/ab (name, senders, rate, p50, p90, p99).
ab_run() {
  ab -q -k -n 5000 -c "$2" -e "$work/p.csv" -p crates/executor/benches/webhook.json -T application/json \
    "http://127.0.0.1:$port/" > "$work/ab.out"
  local rate p50 p90 p99
  rate=$(awk '/Requests per second/ {print $4}' "$work/ab.out")
  read -r p50 p90 p99 < <(awk -F, '$1==50 {a=$2} $1==90 {b=$2} $1==99 {c=$2} END {print a, b, c}' "$work/p.csv")
  grep -q "Non-2xx" "$work/ab.out" && { echo "  $1: non-2xx answers"; exit 1; }
  printf '  %-34s %2s sender(s): %7.0f/s  p50 %5.1f ms  p90 %5.1f ms  p99 %5.1f ms\n' "$1" "$2" "$rate" "$p50" "$p90" "$p99"
  echo "$1 $2 $rate $p50 $p90 $p99" >> "$work/ab"
}

ours=target/release/am-executor
echo "== firing webhooks, 5,000 a round; ours and the original alternate, five rounds each"
rounds=5
for round in $(seq "$rounds"); do
  start "$ours" "$work/executor.yml"
  [ "$round" = 1 ] && ab_run "promrules am-executor" 1
  ab_run "promrules am-executor" 50
  if [ -n "${AMX_ORIGINAL:-}" ]; then
    start "$AMX_ORIGINAL" "$work/executor.yml"
    [ "$round" = 1 ] && ab_run "original prometheus-am-executor" 1
    ab_run "original prometheus-am-executor" 50
  fi
done
[ -n "${AMX_ORIGINAL:-}" ] || echo "== the original: not measured (set AMX_ORIGINAL to a build of prometheus-am-executor)"
echo "== medians of the rounds with 50 senders"
for name in "promrules am-executor" "original prometheus-am-executor"; do
  grep "^$name 50 " "$work/ab" | awk -v name="$name" '
    { rate[NR] = $(NF-3); p50[NR] = $(NF-2); p90[NR] = $(NF-1); p99[NR] = $NF }
    function median(a, n,   i, j, t) { for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }; return a[int((n + 1) / 2)] }
    END { if (NR) printf "  %-34s %7.0f/s  p50 %5.1f ms  p90 %5.1f ms  p99 %5.1f ms\n", name, median(rate, NR), median(p50, NR), median(p90, NR), median(p99, NR) }'
done

# Plain against dedup_window + audit log, each a fresh executor, 50 senders of distinct
# notifications for 10 s (every one runs its command).
run_wrk() { # name, config, extra flags...
  local name=$1 config=$2; shift 2
  start target/release/am-executor "$config" "$@"
  echo "== $name: 50 senders, distinct notifications, 10 s"
  wrk -t2 -c50 -d10s --latency -s crates/executor/benches/distinct.lua "http://127.0.0.1:$port/" \
    | tee "$work/wrk.out" | grep -E "Requests/sec|Non-2xx| 50%| 90%| 99%"
  awk -v name="$name" '/Requests\/sec/ {print name, $2}' "$work/wrk.out" >> "$work/rates"
  echo "  commands run: $(curl -s "http://127.0.0.1:$port/metrics" | awk '/^am_executor_process_duration_seconds_count/ {print $2}')"
}
for round in 1 2; do
  run_wrk "plain" "$work/executor.yml"
  rm -f "$work/audit.jsonl"
  run_wrk "dedup+audit" "$work/dedup.yml" --audit-log "$work/audit.jsonl"
  echo "  audit lines: $(wc -l < "$work/audit.jsonl")"
done
awk '{sum[$1] += $2; n[$1]++} END {
  plain = sum["plain"] / n["plain"]; dedup = sum["dedup+audit"] / n["dedup+audit"];
  printf "== means: plain %.0f/s, dedup_window + --audit-log %.0f/s: %.1f%% of plain\n", plain, dedup, 100 * dedup / plain
}' "$work/rates"
