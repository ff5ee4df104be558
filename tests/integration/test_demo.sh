#!/usr/bin/env bash
# Integration test of `logwarden demo`: determinism, --lines, --truth, and option errors.
# Usage: bash test_demo.sh /path/to/logwarden. Exit 0 pass, 1 fail, 77 skip.
set -u

LW=${1:-}
if [ -z "$LW" ] || [ ! -x "$LW" ]; then
    echo "skip: no logwarden binary given" >&2
    exit 77
fi
TMP=$(mktemp -d "${TMPDIR:-/tmp}/lw_demo.XXXXXX") || exit 1
trap 'rm -rf "$TMP"' EXIT
fail() {
    echo "FAIL: $*" >&2
    exit 1
}

# Same seed, same bytes; different seed, different bytes.
"$LW" demo --seed 7 --lines 20000 --out "$TMP/a.log" || fail "demo --seed 7 failed"
"$LW" demo --seed 7 --lines 20000 > "$TMP/b.log" || fail "demo to stdout failed"
"$LW" demo --seed 8 --lines 20000 --out "$TMP/c.log" || fail "demo --seed 8 failed"
cmp -s "$TMP/a.log" "$TMP/b.log" || fail "same seed gave different output"
cmp -s "$TMP/a.log" "$TMP/c.log" && fail "different seeds gave the same output"

# --lines is exact, for small and odd counts too.
for n in 0 1 2 999 20000; do
    got=$("$LW" demo --lines "$n" --seed 3 | wc -l)
    [ "$got" -eq "$n" ] || fail "--lines $n wrote $got lines"
done
got=$("$LW" demo --lines=1234 | wc -l)
[ "$got" -eq 1234 ] || fail "--lines=1234 wrote $got lines"

# Every kind of system shows up.
grep -q 'blk_' "$TMP/a.log" || fail "no HDFS block lines"
grep -q 'sshd\[' "$TMP/a.log" || fail "no sshd lines"
grep -q '^{"ts":"2026-01-01T' "$TMP/a.log" || fail "no JSON lines"
grep -q '^2026-01-01T00:0.:..\.[0-9]\{3\}Z INFO api-' "$TMP/a.log" || fail "no API lines"
grep -q ' kernel: ' "$TMP/a.log" || fail "no kernel lines"
grep -q 'heartbeat seq=' "$TMP/a.log" || fail "no heartbeats"
for ev in allocateBlock 'Receiving block' 'Received block' 'PacketResponder [0-9] for block' \
          addStoredBlock; do
    grep -q "$ev" "$TMP/a.log" || fail "no HDFS '$ev' events"
done

# --start moves the clock.
"$LW" demo --lines 50 --start 1700000000 | grep -q '2023-11-14T22:13:2' ||
    fail "--start not honoured"

# --truth: every kind at least once in 50,000 lines, and each entry's line holds its key.
"$LW" demo --seed 11 --lines 50000 --out "$TMP/t.log" --truth "$TMP/t.txt" ||
    fail "demo --truth failed"
[ "$(wc -l < "$TMP/t.log")" -eq 50000 ] || fail "truth run line count"
for kind in new_template ssh_burst silent_heartbeat broken_session latency_outlier; do
    grep -q "	$kind	" "$TMP/t.txt" || fail "no $kind in the truth file"
done
n_checked=0
while IFS=$'\t' read -r line kind desc; do
    key=${desc#key=}
    case "$kind" in
    new_template) key=$(printf '%s' "$key" | sed 's/ never-seen.*//') ;;
    *) key=${key%% *} ;;
    esac
    text=$(sed -n "${line}p" "$TMP/t.log")
    case "$text" in
    *"$key"*) ;;
    *) fail "truth line $line ($kind, key '$key') does not hold its key: $text" ;;
    esac
    n_checked=$((n_checked + 1))
done < "$TMP/t.txt"
[ "$n_checked" -ge 5 ] || fail "only $n_checked truth entries"
# The burst really is 50 failures from one IP.
ip=$(awk -F'\t' '$2 == "ssh_burst" { sub(/^key=/, "", $3); split($3, a, " "); print a[1]; exit }' \
    "$TMP/t.txt")
[ "$(grep -c "Failed password .* from $ip port" "$TMP/t.log")" -ge 50 ] || fail "burst of $ip"

# Without anomalies the truth file is empty and none of the anomaly texts appear.
"$LW" demo --seed 11 --lines 50000 --anomalies off --out "$TMP/n.log" --truth "$TMP/n.txt" ||
    fail "demo --anomalies off failed"
[ ! -s "$TMP/n.txt" ] || fail "--anomalies off still wrote truth"
grep -q 'Disk quota exceeded\|certificate has expired\|EXT4-fs error' "$TMP/n.log" &&
    fail "--anomalies off still wrote a new template"

# --help names every option; bad options exit 2 and name the option.
help=$("$LW" demo --help) || fail "--help failed"
for opt in --lines --seed --out --start --rate --heartbeat --anomalies --truth --help; do
    printf '%s' "$help" | grep -q -- "$opt" || fail "--help does not mention $opt"
done
check_bad() {
    local want=$1
    shift
    err=$("$LW" demo "$@" 2>&1 >/dev/null)
    rc=$?
    [ "$rc" -eq 2 ] || fail "'$*' exited $rc, want 2"
    printf '%s' "$err" | grep -q -- "$want" || fail "'$*' message does not name $want: $err"
}
check_bad --bogus --bogus
check_bad --lines --lines abc
check_bad --lines --lines -5
check_bad --anomalies --anomalies maybe
check_bad --seed --seed
check_bad --rate --rate=fast

# --rate paces: 300 lines at 1000 lines/s take at least ~0.25 s.
t0=$(date +%s%N)
"$LW" demo --lines 300 --rate 1000 > /dev/null || fail "--rate failed"
t1=$(date +%s%N)
[ $(((t1 - t0) / 1000000)) -ge 250 ] || fail "--rate 1000 did not pace 300 lines"

echo "ok"
exit 0
