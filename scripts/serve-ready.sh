#!/usr/bin/env bash
# Times `warden serve` on an existing store from launch to its first 200 from /readyz,
# then prints its resident memory five seconds later, and stops it.
# Usage: scripts/serve-ready.sh WARDEN_BINARY DATA_DIR|POSTGRES_URL [PORT]
# (e.g. on a directory made by `warden bench --cron 10 --cron-daily 1000000 --keep-data-dir DIR`,
# or on the URL printed by the same bench on PostgreSQL with `--keep-schema`).
set -euo pipefail
bin=$1 store=$2 port=${3:-18080}
case "$store" in
  postgres://* | postgresql://*) where=(--database-url "$store") ;;
  *) where=(--data-dir "$store") ;;
esac
log=$(mktemp)
start=$(date +%s%N)
"$bin" serve "${where[@]}" --listen "127.0.0.1:$port" >"$log" 2>&1 &
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
