#!/usr/bin/env bash
# The whole loop on this machine, from nothing to a heal script run, in a temp directory and
# on loopback only: Prometheus (reached over SSH for deploys), Alertmanager, am-executor and
# promrules-server; a heal-enabled rule created over REST, deployed, firing, healed.
#
# Every process it talks to is one it started, on ports it picked free, with a database of
# its own: a server or a Prometheus you already run is never touched. It waits for what each
# step depends on (Prometheus has found the Alertmanager before the rule fires), keeps its
# logs and says where when anything fails, and stops everything it started on exit.
# Needs root (for a private sshd) and the Debian packages `scripts/install-deps` installs.
#
# Run with: examples/heal-loop/run-locally.sh
# (PROMRULES_BIN=DIR uses promrules-server and am-executor from DIR instead of building them;
# the test suite runs it that way.)
set -euo pipefail
cd "$(dirname "$0")/../.."
started=$SECONDS
# The server must not pick up a token or database meant for another one.
unset PROMRULES_TOKENS PROMRULES_DATABASE

step() { printf '\n== [%2ds] %s\n' "$((SECONDS - started))" "$*"; }
fail() { echo "FAILED: $*" >&2; exit 1; }
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
# Waits until URL answers and the process PID (ours) is still alive, so a port some other
# program holds is never mistaken for ours.
wait_http() {
  local url=$1 pid=$2 name=$3
  for _ in $(seq 300); do
    kill -0 "$pid" 2>/dev/null || fail "$name exited; see $work/$name.log"
    curl -sf "$url" >/dev/null && return 0
    sleep 0.1
  done
  fail "$name did not answer at $url; see $work/$name.log"
}

work=$(mktemp -d /tmp/promrules-loop.XXXXXX)
pids=()
finish() {
  local status=$?
  kill "${pids[@]}" 2>/dev/null || true
  wait 2>/dev/null || true
  if [ "$status" -eq 0 ]; then
    rm -rf "$work"
  else
    echo "the logs are kept in $work (*.log)" >&2
  fi
}
trap finish EXIT

if [ -n "${PROMRULES_BIN:-}" ]; then
  bin=$PROMRULES_BIN
else
  step "install what the loop runs (Debian packages) and build the two binaries"
  scripts/install-deps
  cargo build --release -q -p promrules-server -p am-executor
  bin=$PWD/target/release
fi
for program in "$bin/promrules-server" "$bin/am-executor"; do
  [ -x "$program" ] || fail "$program is missing"
done

ssh_port=$(free_port); am_port=$(free_port); prom_port=$(free_port)
exec_port=$(free_port); server_port=$(free_port)
mkdir -p "$work/rules" "$work/ssh"
echo 'groups: []' > "$work/rules/promrules.yml"

step "an sshd on 127.0.0.1:$ssh_port (the deployer's way in), its host key pinned"
ssh-keygen -q -t ed25519 -N '' -f "$work/ssh/host_key"
ssh-keygen -q -t ed25519 -N '' -f "$work/ssh/id_ed25519"
cp "$work/ssh/id_ed25519.pub" "$work/ssh/authorized_keys"
mkdir -p /run/sshd
cat > "$work/ssh/sshd_config" <<CONF
Port $ssh_port
ListenAddress 127.0.0.1
HostKey $work/ssh/host_key
AuthorizedKeysFile $work/ssh/authorized_keys
PidFile $work/ssh/sshd.pid
StrictModes no
PasswordAuthentication no
Subsystem sftp internal-sftp
CONF
/usr/sbin/sshd -D -e -f "$work/ssh/sshd_config" >"$work/sshd.log" 2>&1 & pids+=($!)
# The known_hosts entry comes from the key file, not from asking the port.
printf '[127.0.0.1]:%s %s\n' "$ssh_port" "$(cut -d' ' -f1,2 "$work/ssh/host_key.pub")" > "$work/ssh/known_hosts"

step "Alertmanager on 127.0.0.1:$am_port, routing heal=\"true\" to am-executor on 127.0.0.1:$exec_port"
sed -e 's/group_wait: 10s/group_wait: 0s/' -e "s|127.0.0.1:8080|127.0.0.1:$exec_port|" \
  examples/heal-loop/alertmanager.yml > "$work/alertmanager.yml"
prometheus-alertmanager --config.file="$work/alertmanager.yml" --storage.path="$work/am" \
  --web.listen-address="127.0.0.1:$am_port" --cluster.listen-address= >"$work/alertmanager.log" 2>&1 & pids+=($!)
wait_http "http://127.0.0.1:$am_port/-/ready" "${pids[-1]}" alertmanager

step "Prometheus on 127.0.0.1:$prom_port, loading $work/rules/*.yml and alerting to that Alertmanager"
sed -e "s|/etc/prometheus/rules|$work/rules|" -e 's/evaluation_interval: 15s/evaluation_interval: 1s/' \
  -e "s|127.0.0.1:9093|127.0.0.1:$am_port|" -e "s|127.0.0.1:9090|127.0.0.1:$prom_port|" \
  examples/heal-loop/prometheus.yml > "$work/prometheus.yml"
prometheus --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/tsdb" \
  --web.listen-address="127.0.0.1:$prom_port" --web.enable-lifecycle \
  --rules.alert.resend-delay=1s >"$work/prometheus.log" 2>&1 & pids+=($!)
wait_http "http://127.0.0.1:$prom_port/-/ready" "${pids[-1]}" prometheus
for _ in $(seq 300); do
  curl -sf "http://127.0.0.1:$prom_port/api/v1/alertmanagers" | grep -q "127.0.0.1:$am_port" && break
  sleep 0.1
done
curl -sf "http://127.0.0.1:$prom_port/api/v1/alertmanagers" | grep -q "127.0.0.1:$am_port" \
  || fail "Prometheus did not discover the Alertmanager; see $work/prometheus.log"

step "am-executor on 127.0.0.1:$exec_port with a heal script"
cat > "$work/heal.sh" <<SCRIPT
#!/bin/sh
echo "healed \$AMX_ALERT_1_LABEL_alertname on \$AMX_ALERT_1_LABEL_instance" >> $work/healed.log
SCRIPT
chmod +x "$work/heal.sh"
printf 'commands:\n  - cmd: %s\n    match_labels: {heal: "true"}\n' "$work/heal.sh" > "$work/executor.yml"
"$bin/am-executor" -f "$work/executor.yml" -l "127.0.0.1:$exec_port" >"$work/executor.log" 2>&1 & pids+=($!)
wait_http "http://127.0.0.1:$exec_port/_health" "${pids[-1]}" executor

server=http://127.0.0.1:$server_port
step "promrules-server on $server with its own database $work/promrules.db"
(cd "$work" && exec "$bin/promrules-server" serve --listen "127.0.0.1:$server_port" \
  --database "$work/promrules.db" >"$work/server.log" 2>&1) & pids+=($!)
wait_http "$server/healthz" "${pids[-1]}" server
echo "the web UI is at $server/ui/ and the API at $server/api/v1 while this runs"

step "register the Prometheus host, create a heal-enabled rule that fires at once, deploy"
curl -sf -X POST "$server/api/v1/hosts" -H 'Content-Type: application/json' -d "{
  \"name\": \"local\", \"address\": \"127.0.0.1\", \"ssh_port\": $ssh_port, \"ssh_user\": \"$(id -un)\",
  \"identity_file\": \"$work/ssh/id_ed25519\", \"known_hosts_file\": \"$work/ssh/known_hosts\",
  \"rule_file\": \"$work/rules/promrules.yml\", \"prometheus_url\": \"http://127.0.0.1:$prom_port\"}" >/dev/null \
  || fail "adding the host failed; see $work/server.log"
curl -sf -X POST "$server/api/v1/rules" -H 'Content-Type: application/json' \
  -d '{"name": "LoopDemo", "expression": "vector(1)", "for": "0s", "heal_enabled": true, "summary": "demo"}' >/dev/null \
  || fail "creating the rule failed; see $work/server.log"
deployment=$(curl -sf -X POST "$server/api/v1/deployments" -H 'Content-Type: application/json' -d '{}' \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["url"])')
status=running
for _ in $(seq 600); do
  status=$(curl -sf "$server$deployment" | python3 -c 'import json,sys; print(json.load(sys.stdin)["status"])')
  [ "$status" != running ] && break
  sleep 0.1
done
curl -sf "$server$deployment" | python3 -c 'import json,sys
d = json.load(sys.stdin)
for h in d["hosts"]:
    print("  %s: %s (%s), revision %s" % (h["host"], h["outcome"], h["message"], h["revision"]))'
[ "$status" = succeeded ] || fail "the deployment $status; see $work/server.log"

step "wait for the alert to fire, reach the executor and run the heal script"
for _ in $(seq 300); do [ -s "$work/healed.log" ] && break; sleep 0.1; done
[ -s "$work/healed.log" ] || fail "no heal within 30 s; see $work/prometheus.log, $work/alertmanager.log, $work/executor.log"
cat "$work/healed.log"
grep -q "healed LoopDemo" "$work/healed.log" || fail "the heal script ran for something else"
step "the loop works: rule -> deploy -> Prometheus -> Alertmanager -> am-executor -> heal script"
