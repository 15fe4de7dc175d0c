#!/usr/bin/env bash
# Fuzzes the jobs.yaml loader (crates/warden-exec/fuzz, target `jobs_yaml`) for a short,
# bounded time with libFuzzer on stable Rust (`--sanitizer none`: the loader is all safe
# Rust, so a panic is what there is to find). Fails on any crash.
#
# Usage: scripts/fuzz-jobs-yaml.sh [SECONDS]   (default 20)
# cargo-fuzz is installed from crates.io when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-20}"

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "fuzz: installing cargo-fuzz" >&2
  cargo install --quiet --locked cargo-fuzz
fi

cd crates/warden-exec
# Seed the corpus with the seed's example file so the fuzzer starts from real YAML.
mkdir -p fuzz/corpus/jobs_yaml
cp tests/fixtures/seed_jobs.yaml fuzz/corpus/jobs_yaml/seed.yaml
cargo fuzz run --sanitizer none jobs_yaml -- -max_total_time="$seconds" -rss_limit_mb=2048
