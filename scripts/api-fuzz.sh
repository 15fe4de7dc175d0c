#!/usr/bin/env bash
# Fuzzes the REST API with schemathesis against the OpenAPI document the server serves:
# starts `warden serve` on 127.0.0.1 (a free port, a temporary data dir, a random admin
# key, no rate limits), waits for /readyz, runs a bounded number of examples per
# operation, and fails on any 5xx or any answer that does not match the document
# (status, content type, body schema). Stops the server and removes its data on exit.
#
# Usage: scripts/api-fuzz.sh
#   WARDEN_BIN=path         the warden binary (default: build target/debug/warden)
#   API_FUZZ_MAX_EXAMPLES=N examples per operation (default 20)
#   API_FUZZ_SEED=N         reproduce a run (schemathesis prints its seed)
#
# schemathesis is installed once into target/schemathesis-venv (PyPI), pinned below.
set -euo pipefail
cd "$(dirname "$0")/.."

SCHEMATHESIS_VERSION=4.32.5
VENV=target/schemathesis-venv
MAX_EXAMPLES="${API_FUZZ_MAX_EXAMPLES:-20}"

if ! "$VENV/bin/schemathesis" --version 2>/dev/null | grep -qF "$SCHEMATHESIS_VERSION"; then
  echo "api-fuzz: installing schemathesis $SCHEMATHESIS_VERSION into $VENV" >&2
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
fi

if [ -n "${WARDEN_BIN:-}" ]; then
  bin="$WARDEN_BIN"
else
  cargo build --quiet -p warden --bin warden
  bin=target/debug/warden
fi
[ -x "$bin" ] || { echo "api-fuzz: no warden binary at $bin" >&2; exit 1; }

work="$(mktemp -d)"
server_pid=""
cleanup() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill "$server_pid"
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
admin_key="$(openssl rand -hex 32)"
base="http://127.0.0.1:$port"

# Only the variables warden needs: no WARDEN_* from the caller's environment leaks in.
env -i PATH="$PATH" JOB_SCHEDULER_API_KEY="$admin_key" RUST_LOG=warn \
  "$bin" serve --data-dir "$work/data" --listen "127.0.0.1:$port" \
  --rate-limit-per-ip 0 --rate-limit-per-principal 0 >"$work/server.log" 2>&1 &
server_pid=$!

for _ in $(seq 1 300); do
  if curl -fsS "$base/readyz" >/dev/null 2>&1; then break; fi
  if ! kill -0 "$server_pid" 2>/dev/null; then
    echo "api-fuzz: warden serve exited before it was ready:" >&2
    cat "$work/server.log" >&2
    exit 1
  fi
  sleep 0.1
done
curl -fsS "$base/readyz" >/dev/null || { echo "api-fuzz: /readyz never answered" >&2; cat "$work/server.log" >&2; exit 1; }

seed_args=()
[ -n "${API_FUZZ_SEED:-}" ] && seed_args=(--seed "$API_FUZZ_SEED")

st="$PWD/$VENV/bin/schemathesis"
status=0
# Run from the temporary dir so no hypothesis or report files land in the repository.
# Every request carries the admin key; schemathesis does not make up credentials of its
# own (they would be refused with 401 before reaching the handler).
(
  cd "$work"
  "$st" run "$base/api/v1/openapi.json" \
    --header "x-job-api-key: $admin_key" \
    --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
    --max-examples "$MAX_EXAMPLES" \
    --generation-with-security-parameters false \
    --workers 1 \
    --generation-database none \
    --request-timeout 10 \
    --no-color \
    "${seed_args[@]}"
) || status=$?

if [ "$status" -ne 0 ]; then
  echo "api-fuzz: schemathesis found problems (exit $status); the server's log:" >&2
  grep -iE 'error|panic' "$work/server.log" | tail -50 >&2 || true
fi
exit "$status"
