#!/usr/bin/env bash
# HTTP create benchmark of promrules-server over loopback, with ApacheBench (ab, keep-alive):
#   1 client creating 10,000 rules one after another, then 8 concurrent clients creating
#   10,000 more, on SQLite (durable commits: WAL, synchronous=FULL) and on PostgreSQL
#   (default durable settings), each on a fresh database.
#
# Run with: crates/api/benches/http.sh      (figures go to docs/benchmarks.md by hand)
set -euo pipefail
cd "$(dirname "$0")/../../.."

scripts/install-deps
command -v ab >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq apache2-utils >/dev/null; }
cargo build --release -q -p promrules-server
server=target/release/promrules-server
body=crates/api/benches/rule.json
work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  [ -n "${pg_data:-}" ] && runuser -u postgres -- "$pg_bin/pg_ctl" -D "$pg_data" -m fast stop >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

bench() { # backend database-url
  local backend=$1 url=$2 port
  port=$(free_port)
  RUST_LOG=warn "$server" --database "$url" serve --listen "127.0.0.1:$port" &
  pids+=($!)
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
  for clients in 1 8; do
    echo "== $backend: $clients client(s), 10,000 creates"
    # ab counts every answer whose length differs from the first as "failed" (each new id
    # changes the length), so success is judged by Non-2xx and the rows stored below.
    ab -q -k -n 10000 -c "$clients" -e "$work/percentiles.csv" -p "$body" -T application/json \
      "http://127.0.0.1:$port/api/v1/rules" | grep -E "Complete requests|Non-2xx|Requests per second"
    # Sub-millisecond percentiles (ab's own table rounds to whole milliseconds).
    awk -F, '$1==50 || $1==90 || $1==99 {printf "  p%s %.2f ms\n", $1, $2}' "$work/percentiles.csv"
  done
  echo "== $backend: rows stored: $(curl -s "http://127.0.0.1:$port/api/v1/rules?limit=1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["total"])')"
  kill "${pids[-1]}"; wait "${pids[-1]}" 2>/dev/null || true
}

bench sqlite "$work/bench.db"

pg_bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
pg_data="$work/pg"
pg_port=$(free_port)
chown postgres "$work"
runuser -u postgres -- "$pg_bin/initdb" -D "$pg_data" -U postgres -A trust >/dev/null
runuser -u postgres -- "$pg_bin/pg_ctl" -D "$pg_data" -l "$work/pg.log" -w \
  -o "-h 127.0.0.1 -p $pg_port -k $work" start >/dev/null
bench postgres "postgres://postgres@127.0.0.1:$pg_port/postgres"
