#!/usr/bin/env bash
# The whole loop on this machine, from nothing to a heal script run, in a temp directory and
# on loopback only: Prometheus (reached over SSH for deploys), Alertmanager, am-executor and
# promrules-server; a heal-enabled rule created over REST, deployed, firing, healed.
# Needs root (for a private sshd) and the Debian packages it installs.
#
# Run with: examples/heal-loop/run-locally.sh
set -euo pipefail
cd "$(dirname "$0")/../.."

step() { printf '\n== %s\n' "$*"; }
wait_http() { for _ in $(seq 150); do curl -sf "$1" >/dev/null && return 0; sleep 0.2; done; echo "no answer from $1" >&2; return 1; }

step "install what the loop runs (Debian packages) and build the two binaries"
scripts/install-deps
cargo build --release -q -p promrules-server -p am-executor
bin=$PWD/target/release

work=$(mktemp -d /tmp/promrules-loop.XXXXXX)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; sleep 0.5; rm -rf "$work"' EXIT
mkdir -p "$work/rules" "$work/ssh"
echo 'groups: []' > "$work/rules/promrules.yml"

step "an sshd on 127.0.0.1:2222 that accepts a new key (the deployer's way in)"
ssh-keygen -q -t ed25519 -N '' -f "$work/ssh/host_key"
ssh-keygen -q -t ed25519 -N '' -f "$work/ssh/id_ed25519"
cp "$work/ssh/id_ed25519.pub" "$work/ssh/authorized_keys"
mkdir -p /run/sshd
cat > "$work/ssh/sshd_config" <<CONF
Port 2222
ListenAddress 127.0.0.1
HostKey $work/ssh/host_key
AuthorizedKeysFile $work/ssh/authorized_keys
PidFile $work/ssh/sshd.pid
StrictModes no
PasswordAuthentication no
Subsystem sftp internal-sftp
CONF
/usr/sbin/sshd -D -f "$work/ssh/sshd_config" & pids+=($!)
sleep 0.5
ssh-keyscan -p 2222 -H 127.0.0.1 > "$work/ssh/known_hosts" 2>/dev/null

step "Alertmanager on 127.0.0.1:9093, routing heal=\"true\" to am-executor on 127.0.0.1:8080"
sed 's/group_wait: 10s/group_wait: 1s/' examples/heal-loop/alertmanager.yml > "$work/alertmanager.yml"
prometheus-alertmanager --config.file="$work/alertmanager.yml" --storage.path="$work/am" \
  --web.listen-address=127.0.0.1:9093 --cluster.listen-address= >"$work/alertmanager.log" 2>&1 & pids+=($!)
wait_http http://127.0.0.1:9093/-/ready

step "Prometheus on 127.0.0.1:9090, loading $work/rules/*.yml and alerting to it"
sed -e "s|/etc/prometheus/rules|$work/rules|" -e 's/evaluation_interval: 15s/evaluation_interval: 1s/' \
  examples/heal-loop/prometheus.yml > "$work/prometheus.yml"
prometheus --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/tsdb" \
  --web.listen-address=127.0.0.1:9090 --web.enable-lifecycle >"$work/prometheus.log" 2>&1 & pids+=($!)
wait_http http://127.0.0.1:9090/-/ready

step "am-executor on 127.0.0.1:8080 with a heal script"
cat > "$work/heal.sh" <<SCRIPT
#!/bin/sh
echo "healed \$AMX_ALERT_1_LABEL_alertname on \$AMX_ALERT_1_LABEL_instance" >> $work/healed.log
SCRIPT
chmod +x "$work/heal.sh"
printf 'commands:\n  - cmd: %s\n    match_labels: {heal: "true"}\n' "$work/heal.sh" > "$work/executor.yml"
"$bin/am-executor" -f "$work/executor.yml" -l 127.0.0.1:8080 >"$work/executor.log" 2>&1 & pids+=($!)
wait_http http://127.0.0.1:8080/_health

step "promrules-server on 127.0.0.1:8090 with its SQLite default"
(cd "$work" && exec "$bin/promrules-server" serve >"$work/server.log" 2>&1) & pids+=($!)
wait_http http://127.0.0.1:8090/healthz

step "register the Prometheus host, create a heal-enabled rule that fires at once, deploy"
curl -sf -X POST http://127.0.0.1:8090/api/v1/hosts -H 'Content-Type: application/json' -d "{
  \"name\": \"local\", \"address\": \"127.0.0.1\", \"ssh_port\": 2222, \"ssh_user\": \"$(id -un)\",
  \"identity_file\": \"$work/ssh/id_ed25519\", \"known_hosts_file\": \"$work/ssh/known_hosts\",
  \"rule_file\": \"$work/rules/promrules.yml\", \"prometheus_url\": \"http://127.0.0.1:9090\"}" >/dev/null
curl -sf -X POST http://127.0.0.1:8090/api/v1/rules -H 'Content-Type: application/json' \
  -d '{"name": "LoopDemo", "expression": "vector(1)", "for": "0s", "heal_enabled": true, "summary": "demo"}' >/dev/null
deployment=$(curl -sf -X POST http://127.0.0.1:8090/api/v1/deployments -H 'Content-Type: application/json' -d '{}' \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["url"])')
for _ in $(seq 300); do
  status=$(curl -sf "http://127.0.0.1:8090$deployment" | python3 -c 'import json,sys; print(json.load(sys.stdin)["status"])')
  [ "$status" != running ] && break
  sleep 0.2
done
curl -sf "http://127.0.0.1:8090$deployment" | python3 -m json.tool
[ "$status" = succeeded ]

step "wait for the heal script"
for _ in $(seq 300); do [ -s "$work/healed.log" ] && break; sleep 0.2; done
cat "$work/healed.log"
grep -q "healed LoopDemo" "$work/healed.log"
echo "the loop works: rule -> deploy -> Prometheus -> Alertmanager -> am-executor -> heal script"
