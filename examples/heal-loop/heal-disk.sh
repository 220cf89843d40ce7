#!/bin/sh
# A heal script for am-executor: cleans temporary files on the instance of the alert.
# am-executor runs it without a shell of its own and with the alert in AMX_* variables.
# Run with: (by am-executor; see executor.yml)
set -eu
instance="${AMX_ALERT_1_LABEL_instance:-unknown}"
echo "healing ${AMX_ALERT_1_LABEL_alertname:-?} on $instance"
# Stop cleanly when the alert resolves (executor.yml sets resolved_signal: SIGTERM).
trap 'echo "alert resolved; stopping"; exit 0' TERM
find /var/tmp -type f -mtime +7 -delete
