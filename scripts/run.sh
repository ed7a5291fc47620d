#!/usr/bin/env bash
# Runs the service with its embedded defaults: SQLite (.run/nhi.db), the mail outbox written
# as files in .run/mail (each mail as a readable .txt and as the raw .eml), the bundled sample
# household registry, and the SPA (dist/) served by the server at http://localhost:8080.
# On a machine with no card reader it also starts pcscd with the virtual NHI card.
# The citizen digital certificate (自然人憑證) login of unit staff is on, with a test PKI
# generated at run time into .run/pki (nhi-testpki; nothing secret is committed).
# Installs what it needs first (scripts/tools.sh). Stop with Ctrl-C.
#
#   scripts/run.sh                 build (with progress), then run
#   scripts/run.sh --system-wide   register the browsers' native-messaging host for all users
#                                  (/etc, /usr/lib; needs root) instead of this user only
#   scripts/run.sh --print         only say what a run would do and tell (nothing is
#                                  installed, built, written or started)
#
#   NHI_VIRTUAL_CARD=auto|on|off   start pcscd + the virtual card: auto = when no reader (default)
#   NHI_VCARD_HOLDER=A123456789    whom the virtual card plays (data/sample/card-holders.json)
#   NHI_CERTIFICATE_ISSUING_CAS    set: your own certificate-login settings (server/README.md),
#                                  no test PKI
#   NHI_LISTEN, NHI_PUBLIC_ORIGIN, … every server setting: see server/README.md
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

print_only=0
scope=user
for arg in "$@"; do
  case $arg in
    --print) print_only=1 ;;
    --system-wide) scope=system ;;
    -h | --help) sed -n '2,22p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown option $arg (try --help)" >&2; exit 2 ;;
  esac
done

say() { printf '\033[1m[run]\033[0m %s\n' "$*" >&2; }

# A page's label exactly as the UI shows it (app/locales/LANG/main.ftl).
label() { sed -n "s/^$2 = //p" "app/locales/$1/main.ftl" | head -n1; }

# Whom the virtual card plays and what to type on the register page (the holder's household
# data, which the sample registry holds too).
holder_lines() {
  local want=${NHI_VCARD_HOLDER:-}
  if ! command -v python3 >/dev/null 2>&1; then
    echo "     (see data/sample/card-holders.json for the holder's household data)"
    return
  fi
  python3 - "$want" data/sample/card-holders.json <<'PY'
import json, sys
want, path = sys.argv[1], sys.argv[2]
holders = json.load(open(path, encoding="utf-8"))["holders"]
h = holders[0]
if want:
    found = [x for x in holders if want in (x["national_id"], x["card_number"])]
    if not found and want.isdigit() and int(want) < len(holders):
        found = [holders[int(want)]]
    if not found:
        print(f"     NHI_VCARD_HOLDER={want} is not in {path}")
        sys.exit(0)
    h = found[0]
print(f"     The virtual card plays {h['name']} (ID {h['national_id']}, card {h['card_number']}).")
print(f"     On the register page type 戶號 (household number) {h['household_number']} and choose")
print(f"     {h['county']} / {h['township']} / {h['village']}, 鄰 (neighbourhood) {h['neighbourhood']}.")
PY
}

# Whether this is the first build (slow: the Rust toolchain builds everything once).
if [ -x target/release/nhi-server ] && [ -f "${NHI_DIST_DIR:-$root/dist}/index.html" ]; then
  build_note="rebuilding only what changed (usually well under a minute)"
else
  build_note="first build: several minutes (later runs reuse it)"
fi

export NHI_LISTEN=${NHI_LISTEN:-127.0.0.1:8080}
export NHI_PUBLIC_ORIGIN=${NHI_PUBLIC_ORIGIN:-http://localhost:8080}
# The development deployment (deploy/development.json): the server checks that its public
# origin is one the development extension and host serve. Only on loopback: the server
# refuses a development deployment anywhere else (server/README.md, deployment_file).
case "$NHI_LISTEN $NHI_PUBLIC_ORIGIN" in
  "127."*" http://localhost:"* | "127."*" http://127.0.0.1:"*)
    export NHI_DEPLOYMENT_FILE=${NHI_DEPLOYMENT_FILE-$root/deploy/development.json} ;;
esac
run_dir="$root/.run"
export NHI_DATABASE_URL=${NHI_DATABASE_URL:-sqlite://$run_dir/nhi.db?mode=rwc}
export NHI_DIST_DIR=${NHI_DIST_DIR:-$root/dist}
export NHI_MAIL_DIR=${NHI_MAIL_DIR:-$run_dir/mail}
export NHI_DOWNLOADS_DIR=${NHI_DOWNLOADS_DIR:-$run_dir/downloads}

case $scope in
  user) install_note="for this user only (folders in $HOME; scripts/run.sh --system-wide for all users)" ;;
  system) install_note="SYSTEM-WIDE for all users (/etc/opt/chrome, /etc/chromium, /etc/opt/edge, /usr/lib/mozilla; needs root)" ;;
esac

# The citizen-certificate login: the test PKI (nhi-testpki) unless configured otherwise.
pki_dir="$run_dir/pki"
test_pki=0
[ -n "${NHI_CERTIFICATE_ISSUING_CAS:-}" ] || test_pki=1

# The test PKI's certificate cards worth trying by hand (all: $pki_dir/pki.json).
certificate_lines() {
  if [ "$test_pki" != 1 ]; then
    echo "     Certificate login: as configured (NHI_CERTIFICATE_ISSUING_CAS=$NHI_CERTIFICATE_ISSUING_CAS)."
    return
  fi
  cat <<CARDS
     自然人憑證 (citizen certificate) login of unit staff, test PKI in $pki_dir
     (PIN 123456 for every card; 3 wrong PINs block it: scripts/vcard.sh unblock LABEL):
       wang          王小明 A123456789  admin of unit 12345678
       huang         黃淑芬 S224680133  admin of unit 23456789
       chen-revoked  陳美麗 B223456719  revoked (in the CRL)
       lin-expired   林志豪 F135792464  expired
       chang-norole  張家豪 E102030403  no unit role
     Swap one into the virtual reader: scripts/vcard.sh certificate wang
     (back to the NHI card: scripts/vcard.sh holder A123456789)
CARDS
}

check_zh=$(label zh-TW nav-check) check_en=$(label en nav-check)
register_zh=$(label zh-TW nav-register) register_en=$(label en nav-register)

instructions() {
  cat <<MSG

  健保卡網路服務註冊 is starting at $NHI_PUBLIC_ORIGIN (open exactly this address)
  1. In Chromium/Chrome/Edge open chrome://extensions, turn on Developer mode,
     "Load unpacked" → $root/bridge/extension
     (or download the extension and nhi-bridge from $NHI_PUBLIC_ORIGIN/download)
  2. Open $NHI_PUBLIC_ORIGIN and follow 「$check_zh」 ($check_en),
     then 「$register_zh」 ($register_en).
$(holder_lines)
$(certificate_lines)
  3. Mails land in $NHI_MAIL_DIR: open the .txt file of each mail (it has the
     confirmation link; the .eml next to it is the raw MIME message).
  Check the card stack: target/release/nhi-bridge doctor
  Operator API token for this run (F9 applications): ${operator_token:-as set in NHI_OPERATORS}

MSG
}

if [ "$print_only" = 1 ]; then
  say "would build the SPA, the server and the bridge, showing progress ($build_note)"
  say "would register the native-messaging host $install_note"
  say "would offer the built nhi-bridge and the extension zip on /download ($NHI_DOWNLOADS_DIR)"
  [ "$test_pki" != 1 ] || say "would generate the test PKI of the certificate login into $pki_dir (nhi-testpki init)"
  operator_token="(a fresh token each run)"
  instructions >&2
  exit 0
fi

# shellcheck source=tools.sh
source scripts/tools.sh

say "building the SPA, the server and the bridge: $build_note"
say "SPA (Trunk, release):"
scripts/build-app.sh
say "server, bridge and test PKI tool (cargo, release):"
cargo build --locked --release -p nhi-server -p nhi-bridge -p nhi-testpki

mkdir -p "$run_dir/mail"

# The test PKI (reused when still valid) and the server's five certificate-login settings.
if [ "$test_pki" = 1 ]; then
  say "test PKI of the certificate login: $pki_dir"
  target/release/nhi-testpki init "$pki_dir"
  pki_env=$(target/release/nhi-testpki env "$pki_dir")
  set -a
  eval "$pki_env"
  set +a
  export NHI_VCARD_PKI="$pki_dir"
fi

virtual=${NHI_VIRTUAL_CARD:-auto}
if [ "$virtual" = auto ]; then
  # doctor's exit code: 2 = no PC/SC service, 3 = no reader (bridge/src/doctor.rs)
  rc=0
  target/release/nhi-bridge doctor >/dev/null 2>&1 || rc=$?
  case $rc in 2 | 3) virtual=on ;; *) virtual=off ;; esac
fi
if [ "$virtual" = on ]; then
  say "no card reader found: starting pcscd with the virtual NHI card${NHI_VCARD_PKI:+ and the certificate cards of the test PKI}"
  export NHI_VCARD_BIN="$root/target/release/nhi-vcard"
  scripts/vcard.sh start ${NHI_VCARD_HOLDER:+--holder "$NHI_VCARD_HOLDER"}
  trap 'scripts/vcard.sh stop' EXIT
fi

# Said before anything is written.
say "registering the native-messaging host for Chrome, Chromium, Edge and Firefox $install_note"
target/release/nhi-bridge install "--$scope" || say "bridge install failed: see 'nhi-bridge doctor'"

# /download offers what this run built: the host binary and the extension as a zip.
mkdir -p "$NHI_DOWNLOADS_DIR"
cp -f target/release/nhi-bridge "$NHI_DOWNLOADS_DIR/nhi-bridge"
rm -f "$NHI_DOWNLOADS_DIR/nhi-extension.zip"
(cd bridge/extension && python3 -m zipfile -c "$NHI_DOWNLOADS_DIR/nhi-extension.zip" ./*) ||
  say "could not zip the extension: /download offers only nhi-bridge"

# A demo operator (advances online applications, F9) with a fresh token each run; the server
# keeps only its SHA-256.
if [ -z "${NHI_OPERATORS:-}" ]; then
  operator_token=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
  NHI_OPERATORS="demo:$(printf %s "$operator_token" | sha256sum | cut -d' ' -f1)"
  export NHI_OPERATORS
fi

instructions >&2
target/release/nhi-server
