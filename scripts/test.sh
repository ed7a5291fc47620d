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
# Every PostgreSQL variant must run here: one that would say SKIPPED fails instead
# (server/tests/common/mod.rs reads this), and a cluster that cannot start ends the run.
export NHI_TEST_POSTGRES=require
trap 'step_done; printf "\033[1m-- total: %d s\033[0m\n" "$SECONDS"; scripts/postgres.sh stop >/dev/null 2>&1 || true' EXIT
if ! pg_env=$(scripts/postgres.sh start); then
  echo "!!!!!!!! PostgreSQL could not be started (scripts/postgres.sh start): the PostgreSQL tests cannot run !!!!!!!!" >&2
  exit 1
fi
eval "$pg_env"

step "packages (deb, rpm, msi, extension zips; scripts/package.sh)"
# The example deployment: every artefact and the store checks; the development deployment:
# the host packages tests/packages.rs installs (its configuration allows the development
# extension and localhost). One packaged release build of the host serves both; the Windows
# host is a debug cross-build (the MSI is only inspected), which also compiles the bridge's
# Windows code (the CredUI PIN dialog) — the former "bridge for Windows" check.
scripts/package.sh --windows-profile debug
scripts/package.sh --deployment deploy/development.json --windows-profile debug

step "tests"
cargo test --workspace --locked
