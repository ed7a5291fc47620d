#!/usr/bin/env bash
# Runs the service with its embedded defaults: SQLite (.run/nhi.sqlite), the mail outbox
# written as .eml files (.run/mail), the bundled sample household registry, and the SPA
# (dist/) served by the server at http://localhost:8080.
# On a machine with no card reader it also starts pcscd with the virtual NHI card.
# Installs what it needs first (scripts/tools.sh). Stop with Ctrl-C.
#
#   NHI_VIRTUAL_CARD=auto|on|off   start pcscd + the virtual card: auto = when no reader (default)
#   NHI_VCARD_HOLDER=A123456789    whom the virtual card plays (data/sample/card-holders.json)
#   NHI_LISTEN, NHI_PUBLIC_ORIGIN, … every server setting: see server/README.md
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
# shellcheck source=tools.sh
source scripts/tools.sh

say() { printf '\033[1m[run]\033[0m %s\n' "$*" >&2; }

say "building the SPA, the server and the bridge (first time: several minutes)"
scripts/build-app.sh >/dev/null
cargo build --locked --release -p nhi-server -p nhi-bridge

run_dir="$root/.run"
mkdir -p "$run_dir/mail"

virtual=${NHI_VIRTUAL_CARD:-auto}
if [ "$virtual" = auto ]; then
  # doctor's exit code: 2 = no PC/SC service, 3 = no reader (bridge/src/doctor.rs)
  rc=0
  target/release/nhi-bridge doctor >/dev/null 2>&1 || rc=$?
  case $rc in 2 | 3) virtual=on ;; *) virtual=off ;; esac
fi
if [ "$virtual" = on ]; then
  say "no card reader found: starting pcscd with the virtual NHI card"
  export NHI_VCARD_BIN="$root/target/release/nhi-vcard"
  scripts/vcard.sh start ${NHI_VCARD_HOLDER:+--holder "$NHI_VCARD_HOLDER"}
  trap 'scripts/vcard.sh stop' EXIT
fi

say "registering the native-messaging host for Chrome, Chromium, Edge and Firefox"
target/release/nhi-bridge install || say "bridge install failed: see 'nhi-bridge doctor'"

export NHI_LISTEN=${NHI_LISTEN:-127.0.0.1:8080}
export NHI_PUBLIC_ORIGIN=${NHI_PUBLIC_ORIGIN:-http://localhost:8080}
export NHI_DATABASE_URL=${NHI_DATABASE_URL:-sqlite://$run_dir/nhi.db?mode=rwc}
export NHI_DIST_DIR=${NHI_DIST_DIR:-$root/dist}
export NHI_MAIL_DIR=${NHI_MAIL_DIR:-$run_dir/mail}
# A demo operator (advances online applications, F9) with a fresh token each run; the server
# keeps only its SHA-256.
if [ -z "${NHI_OPERATORS:-}" ]; then
  operator_token=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
  NHI_OPERATORS="demo:$(printf %s "$operator_token" | sha256sum | cut -d' ' -f1)"
  export NHI_OPERATORS
fi

cat >&2 <<MSG

  健保卡網路服務註冊 is starting at $NHI_PUBLIC_ORIGIN
  1. In Chromium/Chrome/Edge open chrome://extensions, turn on Developer mode,
     "Load unpacked" → $root/bridge/extension
  2. Open $NHI_PUBLIC_ORIGIN and follow 環境檢測 (self-check), then 首次註冊 (register).
  Mails land in $NHI_MAIL_DIR (open the .eml files). Check the card stack: target/release/nhi-bridge doctor
  Operator API token for this run (F9 applications): ${operator_token:-as set in NHI_OPERATORS}

MSG
target/release/nhi-server
