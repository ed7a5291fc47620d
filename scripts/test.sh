#!/usr/bin/env bash
# Runs every test: formatting, lints, the protocol's wasm build, the SPA build, unit and
# property tests, the bridge on a real pcscd with the virtual NHI card, the server on SQLite
# and on PostgreSQL (started here), and the browser end-to-end suite.
# Installs what it needs first (scripts/tools.sh). CI runs exactly this (.ci/run).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
# shellcheck source=tools.sh
source scripts/tools.sh

# Each step's name, and the time the step before it took (CI logs show where time goes).
step_started=$SECONDS
step_name=""
step_done() {
  [ -n "$step_name" ] && printf '\033[1m-- %s: %d s\033[0m\n' "$step_name" $((SECONDS - step_started))
  step_started=$SECONDS
}
step() { step_done; step_name=$*; printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "format"
cargo fmt --all --check

step "lints"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "protocol crate for wasm32"
cargo build --locked -p nhi-protocol --target wasm32-unknown-unknown

step "SPA build (Trunk)"
scripts/build-app.sh

step "PostgreSQL for the storage tests"
if pg_env=$(scripts/postgres.sh start); then
  eval "$pg_env"
else
  echo "!!!!!!!! PostgreSQL could not be started: the PostgreSQL variants will say SKIPPED !!!!!!!!" >&2
fi
trap 'step_done; printf "\033[1m-- total: %d s\033[0m\n" "$SECONDS"; scripts/postgres.sh stop >/dev/null 2>&1 || true' EXIT

step "tests"
cargo test --workspace --locked
