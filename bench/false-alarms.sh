#!/usr/bin/env bash
# false-alarms.sh: no false alarm storm on normal traffic. For each of the seven Loghub-2k systems
# (HDFS, BGL, Apache, Linux, OpenSSH, Spark, HPC), loggen.py --seed SEED turns the 2,000-line
# sample into LINES lines (default 200,000); `logwarden train` learns every model from the first
# half, then the second half is played as normal traffic through `logwarden run --stdin` on the
# same store. Both halves are drawn from the same sample, so the second half holds nothing that
# is really abnormal: every alert is a false alarm.
#
# Per system it prints the lines played, the alerts sent to sinks (rows of `alerts` that were not
# suppressed or rate-limited: state pending, sent or failed), alerts per 100,000 lines played,
# and every finding in the `anomalies` table by detector (suppressed ones included, so that a
# storm hidden by the alert manager's dedup and rate limit still shows). A total line follows.
# The run fails (exit 1) when any system has more than MAX_PER_100K (1) alerts per 100,000 lines.
#
#   bench/false-alarms.sh                       # 200,000 lines per system
#   LINES=1000000 bench/false-alarms.sh
#   LW_BIN=/tmp/build/logwarden KEEP=1 bench/false-alarms.sh   # KEEP: leave the stores behind
#
# Environment: LINES (200000), SEED (7), MAX_PER_100K (1), SYSTEMS (all seven), BENCH_DIR
# (/tmp/lw-bench; the generated logs are cached there), LW_BIN (build/logwarden), SHARED
# (../shared next to the repository), KEEP=1.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SHARED=${SHARED:-$ROOT/../shared}
DATA=$SHARED/data/loghub-2k
LOGGEN=$SHARED/tools/loggen.py
BENCH_DIR=${BENCH_DIR:-/tmp/lw-bench}
LW_BIN=${LW_BIN:-$ROOT/build/logwarden}
LINES=${LINES:-200000}
SEED=${SEED:-7}
MAX_PER_100K=${MAX_PER_100K:-1}
SYSTEMS=${SYSTEMS:-HDFS BGL Apache Linux OpenSSH Spark HPC}

if [ ! -d "$SHARED/data" ] || [ ! -f "$DATA/formats.tsv" ]; then
    echo "false-alarms: skipped: no $DATA (the Loghub-2k samples; set SHARED)"
    exit 0
fi
die() {
    echo "false-alarms: $*" >&2
    exit 2
}
[ -x "$LW_BIN" ] || die "no executable $LW_BIN (build it, or set LW_BIN)"
[ -f "$LOGGEN" ] || die "no $LOGGEN"
command -v sqlite3 >/dev/null || die "sqlite3 (the command-line shell) is needed"
mkdir -p "$BENCH_DIR"

format_of() {
    awk -F'\t' -v s="$1" '$1 == s { print $2 }' "$DATA/formats.tsv"
}

# gen SYSTEM: prints the path of the cached generated log (written under a temporary name first).
gen() {
    local out=$BENCH_DIR/fa-$1-$LINES-s$SEED.log
    if [ ! -s "$out" ]; then
        echo "generating $out..." >&2
        python3 "$LOGGEN" --lines "$LINES" --seed "$SEED" --out "$out.part" \
            "$DATA/$1/$1_2k.log" >&2 || die "loggen.py failed for $1"
        mv "$out.part" "$out"
    fi
    echo "$out"
}

WORK=$(mktemp -d "$BENCH_DIR/false-alarms.XXXXXX")
cleanup() {
    if [ -z "${KEEP:-}" ]; then
        rm -rf "$WORK"
    else
        echo "stores kept in $WORK" >&2
    fi
}
trap cleanup EXIT

q() {
    sqlite3 -cmd ".timeout 5000" "$1/logwarden.db" "$2"
}

total_lines=0
total_alerts=0
total_anoms=0
failed=
rows=()
details=()
for sys in $SYSTEMS; do
    fmt=$(format_of "$sys")
    [ -n "$fmt" ] || die "no format for $sys in formats.tsv"
    log=$(gen "$sys")
    n=$(wc -l <"$log")
    half=$((n / 2))
    head -n "$half" "$log" >"$WORK/$sys.train"
    tail -n +"$((half + 1))" "$log" >"$WORK/$sys.play"
    played=$((n - half))
    d=$WORK/$sys
    "$LW_BIN" train --from "$WORK/$sys.train" -d "$d" --format "$fmt" >"$d.train.log" 2>&1 ||
        die "train failed for $sys: $(tail -3 "$d.train.log")"
    "$LW_BIN" run --stdin --no-syslog --no-http -d "$d" --format "$fmt" <"$WORK/$sys.play" \
        >"$d.alerts.out" 2>"$d.run.log" || die "run failed for $sys: $(tail -3 "$d.run.log")"
    alerts=$(q "$d" "select count(*) from alerts where state not in ('suppressed','limited')")
    anoms=$(q "$d" "select count(*) from anomalies")
    per=$(awk -v a="$alerts" -v n="$played" 'BEGIN { printf "%.2f", a * 100000 / n }')
    bydet=$(q "$d" "select detector || '/' || coalesce(kind, '-') || '=' || count(*)
                    from anomalies group by detector, kind order by count(*) desc" | paste -sd' ')
    rows+=("$(printf '%-8s %10d %8d %10s %10d  %s' "$sys" "$played" "$alerts" "$per" "$anoms" \
        "${bydet:--}")")
    if awk -v p="$per" -v m="$MAX_PER_100K" 'BEGIN { exit !(p > m) }'; then
        failed="$failed $sys"
        details+=("$sys: $(q "$d" "select detector || '/' || kind || ': ' || summary from anomalies
                     a join alerts l on l.anomaly_id = a.id
                     where l.state not in ('suppressed','limited') limit 3" | sed 's/^/    /')")
    fi
    total_lines=$((total_lines + played))
    total_alerts=$((total_alerts + alerts))
    total_anoms=$((total_anoms + anoms))
    rm -f "$WORK/$sys.train" "$WORK/$sys.play"
done

printf '%-8s %10s %8s %10s %10s  %s\n' system lines alerts per_100k anomalies "anomalies by detector/kind"
for r in "${rows[@]}"; do
    echo "$r"
done
printf '%-8s %10d %8d %10s %10d\n' total "$total_lines" "$total_alerts" \
    "$(awk -v a="$total_alerts" -v n="$total_lines" 'BEGIN { printf "%.2f", a * 100000 / n }')" \
    "$total_anoms"
if [ -n "$failed" ]; then
    echo "FAIL: more than $MAX_PER_100K alert(s) per 100,000 lines on:$failed"
    for x in "${details[@]}"; do
        echo "$x"
    done
    exit 1
fi
echo "OK: at most $MAX_PER_100K alert(s) per 100,000 lines on every system"
