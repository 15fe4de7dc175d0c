#!/usr/bin/env bash
# Times `warden serve` on an existing data directory from launch to its first 200 from
# /readyz, then prints its resident memory five seconds later, and stops it.
# Usage: scripts/serve-ready.sh WARDEN_BINARY DATA_DIR [PORT]
# (e.g. on a directory made by `warden bench --cron 10 --cron-daily 1000000 --keep-data-dir DIR`).
set -euo pipefail
bin=$1 dir=$2 port=${3:-18080}
log=$(mktemp)
start=$(date +%s%N)
"$bin" serve --data-dir "$dir" --listen "127.0.0.1:$port" >"$log" 2>&1 &
pid=$!
until curl -fs -o /dev/null "http://127.0.0.1:$port/readyz"; do
  if ! kill -0 "$pid" 2>/dev/null; then echo "serve exited:"; tail -5 "$log"; exit 1; fi
  sleep 0.02
done
end=$(date +%s%N)
echo "ready in $(( (end - start) / 1000000 )) ms"
sleep 5
grep VmRSS "/proc/$pid/status"
kill -TERM "$pid"
wait "$pid" || true
rm -f "$log"
