# bench/lib.sh: helpers shared by the run-*.sh daemon benchmarks (sourced, not run).
#
# Sets ROOT, SHARED, DATA, LOGGEN, BENCH_DIR, LW_BIN, TOOLS and provides: input generation with
# caching, free ports, starting a daemon in a fresh data directory, polling stored_lines, peak and
# current RSS, and stopping the daemon with SIGTERM while checking that it exits 0.
#
# Environment: BENCH_DIR (default /tmp/lw-bench), LW_BIN (default build/logwarden), SHARED
# (default ../shared next to the repository).

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SHARED=${SHARED:-$ROOT/../shared}
DATA=$SHARED/data/loghub-2k
LOGGEN=$SHARED/tools/loggen.py
BENCH_DIR=${BENCH_DIR:-/tmp/lw-bench}
LW_BIN=${LW_BIN:-$ROOT/build/logwarden}
TOOLS=$ROOT/bench/tools
BENCH_NAME=${BENCH_NAME:-$(basename "$0" .sh)}

LW_PID=
LW_DIR=

die() {
    echo "$BENCH_NAME: $*" >&2
    exit 1
}

[ -x "$LW_BIN" ] || die "no executable $LW_BIN (build it, or set LW_BIN)"
[ -f "$LOGGEN" ] || die "no $LOGGEN (set SHARED to the shared directory)"
command -v sqlite3 >/dev/null || die "sqlite3 (the command-line shell) is needed"
mkdir -p "$BENCH_DIR"

now() {
    date +%s.%N
}

# gen_input LINES: prints the path of a cached file of LINES lines made by loggen.py --seed 7 from
# all seven Loghub-2k samples. Written under a temporary name first, so an interrupted run never
# leaves a short file behind.
gen_input() {
    local lines=$1 out
    out=$BENCH_DIR/loghub7-$lines.log
    if [ ! -s "$out" ]; then
        echo "generating $out ($lines lines)..." >&2
        python3 "$LOGGEN" --lines "$lines" --seed 7 --out "$out.part" "$DATA"/*/*_2k.log >&2 ||
            die "loggen.py failed"
        mv "$out.part" "$out"
    fi
    echo "$out"
}

# free_port: prints a TCP port on 127.0.0.1 that nothing listens on right now.
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# start_daemon ARGS...: starts `logwarden run` in a fresh data directory ($LW_DIR), its log in
# $LW_DIR.log, and sets LW_PID. The caller passes the inputs (--tail, --no-syslog, ...).
start_daemon() {
    LW_DIR=$(mktemp -d "$BENCH_DIR/$BENCH_NAME.XXXXXX")
    "$LW_BIN" run --data-dir "$LW_DIR" "$@" 2>"$LW_DIR.log" &
    LW_PID=$!
    trap 'cleanup_daemon' EXIT
}

cleanup_daemon() {
    if [ -n "$LW_PID" ] && kill -0 "$LW_PID" 2>/dev/null; then
        kill -TERM "$LW_PID" 2>/dev/null
        wait "$LW_PID" 2>/dev/null
    fi
    if [ -n "$LW_DIR" ] && [ -z "${KEEP:-}" ]; then
        rm -rf "$LW_DIR" "$LW_DIR".*
    fi
}

# wait_http PORT: waits (up to 10 s) until the daemon answers GET /metrics on PORT.
wait_http() {
    local i
    for i in $(seq 100); do
        curl -fs -o /dev/null "http://127.0.0.1:$1/metrics" && return 0
        kill -0 "$LW_PID" 2>/dev/null || die "daemon exited; log: $(tail -5 "$LW_DIR.log")"
        sleep 0.1
    done
    die "daemon does not answer on port $1"
}

# wait_tcp PORT: waits (up to 10 s) until something accepts TCP connections on PORT.
wait_tcp() {
    local i
    for i in $(seq 100); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        kill -0 "$LW_PID" 2>/dev/null || die "daemon exited; log: $(tail -5 "$LW_DIR.log")"
        sleep 0.1
    done
    die "nothing listens on port $1"
}

# stored_lines [DIR]: the durable line count from the store (0 before the first commit).
stored_lines() {
    local v
    v=$(sqlite3 -cmd ".timeout 2000" "file:${1:-$LW_DIR}/logwarden.db?mode=ro" \
        "select value from counters where name='stored_lines'" 2>/dev/null) || v=
    echo "${v:-0}"
}

# wait_stored N [TIMEOUT_S] [POLL_S]: polls stored_lines every POLL_S (default 0.5 s, so that
# polling does not steal CPU) until it reaches N; prints the time it was seen. Fails on timeout
# or when the daemon dies.
wait_stored() {
    local want=$1 timeout=${2:-600} poll=${3:-0.5} start v
    start=$(now)
    while :; do
        v=$(stored_lines)
        if [ "$v" -ge "$want" ]; then
            now
            return 0
        fi
        kill -0 "$LW_PID" 2>/dev/null || die "daemon exited at stored_lines=$v; log: $(tail -5 "$LW_DIR.log")"
        if awk -v s="$start" -v t="$(now)" -v m="$timeout" 'BEGIN { exit !(t - s > m) }'; then
            die "timeout: stored_lines=$v after ${timeout}s, expected $want"
        fi
        sleep "$poll"
    done
}

# wait_quiet [QUIET_S]: waits until stored_lines has not changed for QUIET_S seconds (default
# 3); prints the final value.
wait_quiet() {
    local quiet=${1:-3} last=-1 v same=0
    while :; do
        v=$(stored_lines)
        if [ "$v" = "$last" ]; then
            same=$((same + 1))
            if [ "$same" -ge $((quiet * 2)) ]; then
                echo "$v"
                return 0
            fi
        else
            same=0
            last=$v
        fi
        sleep 0.5
    done
}

# proc_kib PID FIELD: VmHWM / VmRSS of PID in KiB.
proc_kib() {
    awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status" 2>/dev/null
}

# stop_daemon: reads the peak RSS (VmHWM) into LW_HWM_KIB, sends SIGTERM, waits, and fails unless
# the daemon exits 0.
# thread_cpu PID: the CPU seconds (user + system) of each named thread of PID, summed by name,
# and the total, on one line ("lw-aggregate 4.10 lw-store 3.02 ... total 9.80"). Sets LW_CPU_S
# to the total.
thread_cpu() {
    local out
    out=$(awk -v tck="$(getconf CLK_TCK)" '
        { line = $0; sub(/^[0-9]+ \(/, "", line); name = line; sub(/\) .*$/, "", name)
          sub(/^.*\) /, "", line); split(line, f, " ")
          # f[1] is the state (field 3): utime and stime are fields 14 and 15.
          s = (f[12] + f[13]) / tck; cpu[name] += s; total += s }
        END { for (n in cpu) printf "%s %.2f ", n, cpu[n]; printf "total %.2f", total }' \
        /proc/"$1"/task/*/stat 2>/dev/null) || out="total 0"
    LW_CPU_S=${out##* }
    echo "$out"
}

# proc_cpu PID: the CPU seconds (user + system) of process PID so far, its ended threads
# included; 0 when it is gone.
proc_cpu() {
    awk -v tck="$(getconf CLK_TCK)" '{ line = $0; sub(/^.*\) /, "", line); split(line, f, " ")
        printf "%.2f", (f[12] + f[13]) / tck }' /proc/"$1"/stat 2>/dev/null || echo 0
}

# box_busy: CPU seconds all cores spent not idle since boot (for a difference over a window).
box_busy() {
    awk -v tck="$(getconf CLK_TCK)" '$1 == "cpu" {
        printf "%.2f", ($2 + $3 + $4 + $7 + $8 + $9) / tck }' /proc/stat
}

stop_daemon() {
    local rc=0
    LW_HWM_KIB=$(proc_kib "$LW_PID" VmHWM)
    echo "daemon CPU seconds by thread: $(thread_cpu "$LW_PID")"
    kill -TERM "$LW_PID"
    wait "$LW_PID" || rc=$?
    LW_PID_DONE=$LW_PID
    LW_PID=
    if [ "$rc" -ne 0 ]; then
        echo "daemon log:" >&2
        tail -20 "$LW_DIR.log" >&2
        die "daemon exited $rc (expected 0)"
    fi
    echo "daemon exited 0 after SIGTERM; peak RSS (VmHWM) $((LW_HWM_KIB / 1024)) MiB"
}

# rate LINES T0 T1: lines per second, integer.
rate() {
    awk -v n="$1" -v a="$2" -v b="$3" 'BEGIN { printf "%d", n / (b - a) }'
}

secs() {
    awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'
}

# check_stored WANT: compares stored_lines (after the daemon stopped) with WANT.
check_stored() {
    local got
    got=$(stored_lines)
    if [ "$got" != "$1" ]; then
        die "stored_lines $got != $1 sent"
    fi
    echo "stored_lines $got == $1 sent: OK"
}
