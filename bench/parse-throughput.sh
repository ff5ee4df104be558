#!/usr/bin/env bash
# parse-throughput.sh: end-to-end throughput of `logwarden parse` (framing, header, masks,
# template miner; no output) on two generated logs, one thread and two, with peak memory; and,
# when a Python Drain3 is at hand, Drain3's TemplateMiner on the same HDFS lines for comparison.
#
#   bench/parse-throughput.sh                 # 10M lines per file, cached under /tmp/lw-bench
#   LINES=200000 bench/parse-throughput.sh    # a quick run
#   DRAIN3=1 bench/parse-throughput.sh        # also install Drain3 in a venv and compare
#
# Environment: LINES (default 10000000), BENCH_DIR (default /tmp/lw-bench), LW_BIN (default
# build/logwarden), DRAIN3=1 (create ${BENCH_DIR}/venv and pip install drain3), DRAIN3_LINES
# (default 200000: Drain3 is measured on the first lines of the HDFS file only), SHARED (default
# ../shared next to the repository). See bench/README.md for how to read the figures.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
SHARED=${SHARED:-$ROOT/../shared}
DATA=$SHARED/data/loghub-2k
LOGGEN=$SHARED/tools/loggen.py
BENCH_DIR=${BENCH_DIR:-/tmp/lw-bench}
LINES=${LINES:-10000000}
LW_BIN=${LW_BIN:-$ROOT/build/logwarden}
DRAIN3_LINES=${DRAIN3_LINES:-200000}
SYSTEMS="HDFS BGL Apache Linux OpenSSH Spark HPC"

die() {
    echo "parse-throughput: $*" >&2
    exit 1
}

[ -f "$LOGGEN" ] || die "no $LOGGEN (set SHARED to the shared directory)"
[ -d "$DATA" ] || die "no $DATA"
mkdir -p "$BENCH_DIR"

# Header layout of a Loghub system, from formats.tsv.
format_of() {
    awk -F'\t' -v s="$1" '$1 == s { print $2 }' "$DATA/formats.tsv"
}

# Generates $2 with loggen.py from the sources $3..., unless it is already cached. The file is
# written under a temporary name first, so an interrupted run never leaves a short file behind.
generate() {
    local lines=$1 out=$2
    shift 2
    if [ -s "$out" ]; then
        echo "cached: $out"
        return
    fi
    echo "generating $out ($lines lines)..."
    python3 "$LOGGEN" --lines "$lines" --seed 7 --out "$out.part" "$@"
    mv "$out.part" "$out"
}

HDFS_LOG=$BENCH_DIR/hdfs-$LINES.log
MIXED_LOG=$BENCH_DIR/mixed-$LINES.log
generate "$LINES" "$HDFS_LOG" "$DATA/HDFS/HDFS_2k.log"
mixed_sources=()
for s in $SYSTEMS; do
    mixed_sources+=("$DATA/$s/${s}_2k.log")
done
generate "$LINES" "$MIXED_LOG" "${mixed_sources[@]}"
HDFS_FMT=$(format_of HDFS)

# Peak RSS: GNU time when present, else the VmHWM of the process polled from /proc.
TIME_BIN=
if [ -x /usr/bin/time ] && /usr/bin/time -f %M true 2>/dev/null; then
    TIME_BIN=/usr/bin/time
fi

# run_cmd OUT_RSS_FILE CMD...: runs CMD (stdout discarded, stderr kept in $BENCH_DIR/last.err)
# and writes its peak RSS in KiB into OUT_RSS_FILE.
run_cmd() {
    local rss_file=$1
    shift
    if [ -n "$TIME_BIN" ]; then
        "$TIME_BIN" -f %M -o "$rss_file" "$@" >/dev/null 2>"$BENCH_DIR/last.err"
        return
    fi
    local pid hwm=0 v rc=0
    "$@" >/dev/null 2>"$BENCH_DIR/last.err" &
    pid=$!
    while kill -0 "$pid" 2>/dev/null; do
        v=$(awk '/^VmHWM:/ { print $2 }' "/proc/$pid/status" 2>/dev/null || true)
        if [ -n "$v" ] && [ "$v" -gt "$hwm" ]; then
            hwm=$v
        fi
        sleep 0.05
    done
    wait "$pid" || rc=$?
    echo "$hwm" >"$rss_file"
    return "$rc"
}

declare -A LPS
ROWS=()

# measure NAME FILE THREADS [--format FMT]
measure() {
    local name=$1 file=$2 threads=$3
    shift 3
    local t0 t1 rss bytes lines
    t0=$(date +%s.%N)
    if ! run_cmd "$BENCH_DIR/rss" "$LW_BIN" parse --output none "$@" -j "$threads" "$file"; then
        echo "logwarden parse failed on $file (-j $threads):" >&2
        sed 's/^/  /' "$BENCH_DIR/last.err" >&2
        return 1
    fi
    t1=$(date +%s.%N)
    rss=$(tail -n 1 "$BENCH_DIR/rss")
    bytes=$(stat -c %s "$file")
    lines=$(wc -l <"$file")
    LPS[$name/$threads]=$(awk -v l="$lines" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", l / (b - a) }')
    ROWS+=("$(awk -v n="$name" -v j="$threads" -v l="$lines" -v by="$bytes" -v a="$t0" -v b="$t1" \
        -v r="$rss" 'BEGIN { s = b - a; printf "%-8s %7d %10.2f %12.0f %9.1f %12.1f", n, j, s, l / s, by / s / 1e6, r / 1024 }')")
}

echo
if ! "$LW_BIN" parse --help 2>&1 | grep -q -- "--output"; then
    echo "logwarden parse: not available in $LW_BIN (build it, or set LW_BIN)"
    PARSE_OK=0
else
    PARSE_OK=1
    measure hdfs "$HDFS_LOG" 1 --format "$HDFS_FMT"
    measure hdfs "$HDFS_LOG" 2 --format "$HDFS_FMT"
    measure mixed "$MIXED_LOG" 1
    measure mixed "$MIXED_LOG" 2
    echo "logwarden parse --output none ($LINES lines per file, $(nproc) CPUs)"
    printf '%-8s %7s %10s %12s %9s %12s\n' file threads seconds lines/s MB/s "peak RSS MB"
    printf '%s\n' "${ROWS[@]}"
    for f in hdfs mixed; do
        awk -v f="$f" -v a="${LPS[$f/1]}" -v b="${LPS[$f/2]}" \
            'BEGIN { printf "%s: -j2/-j1 = %.2f\n", f, b / a }'
    done
    echo "last summary (stderr of the last run):"
    sed 's/^/  /' "$BENCH_DIR/last.err"
fi

# ---- Drain3 ----
echo
PY=
VENV=$BENCH_DIR/venv
if [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c 'import drain3' 2>/dev/null; then
    PY=$VENV/bin/python
elif python3 -c 'import drain3' 2>/dev/null; then
    PY=python3
elif [ "${DRAIN3:-0}" = 1 ]; then
    echo "installing drain3 into $VENV..."
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet drain3
    PY=$VENV/bin/python
fi
if [ -z "$PY" ]; then
    echo "Drain3: not available (set DRAIN3=1 to install it in a venv)"
    exit 0
fi
DRAIN3_OUT=$("$PY" "$ROOT/bench/drain3_bench.py" --format "$HDFS_FMT" --lines "$DRAIN3_LINES" \
    "$HDFS_LOG")
echo "$DRAIN3_OUT"
D3_LPS=$(echo "$DRAIN3_OUT" | awk '/^drain3_lines_per_s/ { print $2 }')
if [ "$PARSE_OK" = 1 ] && [ -n "$D3_LPS" ]; then
    awk -v a="${LPS[hdfs/1]}" -v b="${LPS[hdfs/2]}" -v d="$D3_LPS" 'BEGIN {
        printf "logwarden/Drain3 speed ratio on HDFS: %.1fx (-j 1), %.1fx (-j 2)\n", a / d, b / d }'
fi
