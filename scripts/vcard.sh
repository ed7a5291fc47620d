#!/usr/bin/env bash
# pcscd + the virtual NHI card (bridge/ nhi-vcard) for the demo and for test runs on a machine
# without a physical reader.
#
#   scripts/vcard.sh start [nhi-vcard options]   e.g. --holder B223456719 --model get-response
#   scripts/vcard.sh stop
#   scripts/vcard.sh status
#   scripts/vcard.sh restart [nhi-vcard options]
#   scripts/vcard.sh remove | insert | holder ID   (pull / put back / swap the virtual card)
#   scripts/vcard.sh certificate LABEL             swap in a citizen-certificate card of the
#                                                  test PKI (nhi-testpki; needs --pki at start)
#   scripts/vcard.sh unblock LABEL                 reset that card's PIN counter (tests)
#
# Env: NHI_VCARD_OWNER_PID (stop everything when this process ends: test harnesses),
#      NHI_RUN_DIR (state: pid files, logs, control socket; default <repo>/.run/vcard),
#      NHI_VCARD_BIN (the nhi-vcard binary; default: built with cargo into target/debug),
#      NHI_PCSCD_LOCK (machine-wide lock shared with `cargo test -p nhi-bridge`,
#      default /tmp/nhi-pcscd.lock), NHI_VCARD_WAIT_MS (presence wait, default 10000),
#      PCSCD_ARGS (extra pcscd options, e.g. "--debug --apdu"),
#      NHI_VCARD_PKI (a test PKI directory made by `nhi-testpki init`: start passes
#      --pki DIR to nhi-vcard, so `certificate LABEL` can swap in its cards).
#
# pcscd is a machine-wide singleton: this script starts it in the foreground (so the PID we
# record is pcscd's), never with --auto-exit, stops it by PID, and holds the machine-wide lock
# (inherited by pcscd and the card) so that the bridge's integration tests wait instead of
# fighting over it. Presence is awaited with SCardGetStatusChange (nhi-vcard wait), not sleeps.
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
RUN=${NHI_RUN_DIR:-$ROOT/.run/vcard}
LOCK=${NHI_PCSCD_LOCK:-/tmp/nhi-pcscd.lock}
WAIT_MS=${NHI_VCARD_WAIT_MS:-10000}
SOCK=/run/pcscd/pcscd.comm
PIDFILE_SYS=/run/pcscd/pcscd.pid
VPCD_DRIVER=/usr/lib/pcsc/drivers/serial/libifdvpcd.so
mkdir -p "$RUN"

say() { echo "vcard.sh: $*" >&2; }
now_ms() { date +%s%3N; }

# alive PID [COMM]: running (not a zombie) and, if given, /proc/PID/comm matches.
alive() {
    local pid=$1 comm=${2:-} st
    [[ $pid =~ ^[0-9]+$ ]] && [ -r "/proc/$pid/stat" ] || return 1
    st=$(sed -E 's/^[0-9]+ \(.*\) (.).*/\1/' "/proc/$pid/stat" 2>/dev/null) || return 1
    [ "$st" != Z ] || return 1
    [ -z "$comm" ] || [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$comm" ]
}

# readpid FILE: the digits in a pid file (pcscd's own ends in a NUL byte); empty if missing.
readpid() { if [ -r "$1" ]; then tr -cd '0-9' <"$1"; fi; }
system_pcscd_pid() { readpid "$PIDFILE_SYS"; }

vcard_bin() {
    if [ -n "${NHI_VCARD_BIN:-}" ]; then
        echo "$NHI_VCARD_BIN"
        return
    fi
    (cd "$ROOT" && cargo build -q -p nhi-bridge --bin nhi-vcard) >&2 || return 1
    echo "$ROOT/target/debug/nhi-vcard"
}

# stop_pid PIDFILE COMM: SIGTERM, wait up to 5 s, SIGKILL; only when the comm matches.
stop_pid() {
    local f=$1 comm=$2 pid i
    pid=$(readpid "$f")
    if alive "$pid" "$comm"; then
        kill -TERM "$pid" 2>/dev/null
        for ((i = 0; i < 100; i++)); do alive "$pid" || break; sleep 0.05; done
        if alive "$pid"; then
            say "$comm ($pid) ignored SIGTERM; SIGKILL"
            kill -KILL "$pid" 2>/dev/null
            for ((i = 0; i < 40; i++)); do alive "$pid" || break; sleep 0.05; done
        fi
    fi
    rm -f "$f"
}

start() {
    local t0 bin other i
    t0=$(now_ms)
    command -v pcscd >/dev/null || [ -x /usr/sbin/pcscd ] || { say "pcscd is not installed: apt-get install -y pcscd"; return 1; }
    [ -e "$VPCD_DRIVER" ] || { say "vsmartcard-vpcd is not installed: apt-get install -y vsmartcard-vpcd"; return 1; }
    if [ "$(id -u)" != 0 ] && [ ! -w /run/pcscd ]; then
        say "pcscd needs root, or a writable /run/pcscd (sudo install -d -o \$USER /run/pcscd)"
        return 1
    fi
    if alive "$(readpid "$RUN/pcscd.pid")" pcscd; then
        say "already running (scripts/vcard.sh status)"
        return 0
    fi
    bin=$(vcard_bin) || { say "cannot build nhi-vcard"; return 1; }

    # Machine-wide lock, held by pcscd and the card through the inherited descriptor.
    exec 9>>"$LOCK"
    if ! flock -w 60 9; then
        say "$LOCK is held by another pcscd user (a cargo test -p nhi-bridge run?); try again later"
        exec 9>&-
        return 1
    fi
    other=$(system_pcscd_pid)
    if alive "$other" pcscd; then
        say "another pcscd (pid $other) is running; stop it first (systemd: systemctl stop pcscd.socket pcscd.service)"
        exec 9>&-
        return 1
    fi
    # Stale after a SIGKILL or a zombie: pcscd would refuse to start.
    rm -f "$SOCK" "$PIDFILE_SYS"

    # shellcheck disable=SC2086
    setsid "$(command -v pcscd || echo /usr/sbin/pcscd)" --foreground ${PCSCD_ARGS:-} >"$RUN/pcscd.log" 2>&1 </dev/null &
    echo $! >"$RUN/pcscd.pid"
    # 20 s: on a loaded 2-core machine (CI, parallel builds) pcscd has taken more than 5 s.
    for ((i = 0; i < 800; i++)); do
        [ -S "$SOCK" ] && break
        alive "$(cat "$RUN/pcscd.pid")" || { say "pcscd died:"; cat "$RUN/pcscd.log" >&2; exec 9>&-; return 1; }
        sleep 0.025
    done
    [ -S "$SOCK" ] || { say "no $SOCK after 20 s"; exec 9>&-; stop; return 1; }

    local pki=()
    if [ -n "${NHI_VCARD_PKI:-}" ]; then pki=(--pki "$NHI_VCARD_PKI"); fi
    setsid "$bin" --control "$RUN/card.sock" "${pki[@]}" "$@" >"$RUN/card.log" 2>&1 </dev/null &
    echo $! >"$RUN/card.pid"
    exec 9>&-
    if ! "$bin" wait --present --timeout-ms "$WAIT_MS" >"$RUN/wait.log" 2>&1; then
        say "the virtual card did not appear:"
        cat "$RUN/wait.log" "$RUN/card.log" >&2
        stop
        return 1
    fi
    watch_owner
    say "up in $(($(now_ms) - t0)) ms: pcscd pid $(cat "$RUN/pcscd.pid"), card pid $(cat "$RUN/card.pid") (logs in $RUN)"
}

# With NHI_VCARD_OWNER_PID (a test process), stop the stack when that process ends, however
# it ends: a test run killed by a timeout must not leave an orphan pcscd holding the lock.
# `tail --pid` sleeps between checks; the watcher does not hold the lock itself.
watch_owner() {
    local owner=${NHI_VCARD_OWNER_PID:-}
    [[ $owner =~ ^[0-9]+$ ]] || return 0
    setsid bash -c 'tail --pid="$1" -f /dev/null; exec "$2" stop' _ "$owner" "$ROOT/scripts/vcard.sh" \
        >>"$RUN/owner-watch.log" 2>&1 </dev/null 9>&- &
    echo $! >"$RUN/watch.pid"
}

stop() {
    local w
    w=$(readpid "$RUN/watch.pid")
    # the watcher's own `stop` runs as that process: do not kill ourselves
    if [ -n "$w" ] && [ "$w" != "$$" ] && alive "$w"; then kill -- "-$w" 2>/dev/null; fi
    rm -f "$RUN/watch.pid"
    stop_pid "$RUN/card.pid" nhi-vcard
    stop_pid "$RUN/pcscd.pid" pcscd
    alive "$(system_pcscd_pid)" pcscd || rm -f "$SOCK" "$PIDFILE_SYS"
    rm -f "$RUN/card.sock"
    say "stopped"
}

status() {
    local p c
    p=$(readpid "$RUN/pcscd.pid")
    c=$(readpid "$RUN/card.pid")
    if alive "$p" pcscd; then echo "pcscd     running (pid $p)"; else echo "pcscd     stopped"; fi
    if alive "$c" nhi-vcard; then
        echo "nhi-vcard running (pid $c): $("${NHI_VCARD_BIN:-$ROOT/target/debug/nhi-vcard}" ctl --control "$RUN/card.sock" status 2>&1)"
    else
        echo "nhi-vcard stopped"
    fi
    alive "$p" pcscd && alive "$c" nhi-vcard
}

ctl() {
    "${NHI_VCARD_BIN:-$ROOT/target/debug/nhi-vcard}" ctl --control "$RUN/card.sock" "$@"
}

vwait() {
    "${NHI_VCARD_BIN:-$ROOT/target/debug/nhi-vcard}" wait "$1" --timeout-ms "$WAIT_MS"
}

# Swaps the card (`holder ID` or `certificate LABEL`). A card in the reader is pulled first
# and PC/SC must see the reader empty before the new one goes in: swapped in one step, PC/SC
# can still report the old card "present" while it goes, and the next command finds no card.
swap() {
    if ctl status | grep -q '^ok inserted'; then
        ctl remove >/dev/null && vwait --absent && ctl "$@" && ctl insert >/dev/null && vwait --present
    else
        ctl "$@"
    fi
}

cmd=${1:-}
shift || true
case "$cmd" in
    start) start "$@" ;;
    stop) stop ;;
    status) status ;;
    restart) stop; start "$@" ;;
    remove) ctl remove && "${NHI_VCARD_BIN:-$ROOT/target/debug/nhi-vcard}" wait --absent --timeout-ms "$WAIT_MS" ;;
    insert) ctl insert && "${NHI_VCARD_BIN:-$ROOT/target/debug/nhi-vcard}" wait --present --timeout-ms "$WAIT_MS" ;;
    holder) swap holder "$@" ;;
    certificate)
        [ $# = 1 ] || { echo "usage: $0 certificate LABEL (a card of the test PKI's pki.json)" >&2; exit 2; }
        swap certificate "$1" ;;
    unblock)
        [ $# = 1 ] || { echo "usage: $0 unblock LABEL" >&2; exit 2; }
        ctl unblock "$1" ;;
    *) echo "usage: $0 start [nhi-vcard options] | stop | status | restart | remove | insert | holder ID | certificate LABEL | unblock LABEL" >&2; exit 2 ;;
esac
