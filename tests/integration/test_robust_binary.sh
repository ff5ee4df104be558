#!/usr/bin/env bash
# Issue 3, a binary file: 5 MB of random bytes (fixed seed) appears in the tailed directory next
# to a text file that is tailed at the same time. The daemon survives, the binary file's lines
# (split at its LF bytes, cut at 64 KiB) are counted and flagged invalid
# (logwarden_invalid_lines_total), and every line of the text file is counted. A file of NUL
# bytes (no LF at all: one truncated line) is handled the same way.
set -euo pipefail
LW=${1:?usage: test_robust_binary.sh /path/to/logwarden}
. "$(dirname "$0")/tools/robust_lib.sh"

# --multiline off: the expected count is of physical lines (with the default, auto, the random
# pieces that start with white space would join the piece before them).
start --tail "$T/logs/*.log" --multiline off
# The binary file's line count: LF-separated pieces, plus an unfinished tail if any (it stays
# pending until its LF: not counted), as the tail splits it.
python3 - "$T/logs/blob.log" "$T/expect" <<'EOF'
import random, sys
rnd = random.Random(7)
data = bytes(rnd.getrandbits(8) for _ in range(5 * 1024 * 1024))
with open(sys.argv[1], "wb") as f:
    f.write(data)
pieces = data.split(b"\n")
done = pieces[:-1]          # the last piece has no LF: it waits for one
def valid_utf8(b):
    try:
        b.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False
inv = sum(1 for p in done if b"\0" in p or not valid_utf8(p))
open(sys.argv[2], "w").write(f"{len(done)} {inv}\n")
EOF
read -r BLOB_LINES BLOB_INVALID < "$T/expect"
note "binary file: $BLOB_LINES complete lines, $BLOB_INVALID with invalid UTF-8 or NUL"
"$LW" demo --lines 20000 --seed 12 > "$T/logs/text.log"
"$LW" demo --lines 5000 --seed 13 >> "$T/logs/text.log"
head -c $((3 * 1024 * 1024)) /dev/zero > "$T/logs/zeros.log"
want=$((BLOB_LINES + 25000))
wait_stored "$want" 60
alive "after the binary file"
inv=$(metric logwarden_invalid_lines_total)
note "invalid_lines_total $inv"
[ "$inv" -ge "$BLOB_INVALID" ] || fail "invalid_lines_total $inv, want >= $BLOB_INVALID"
# The NUL file's one line is unfinished (no LF): appending one finishes it, truncated at 64 KiB.
trunc0=$(metric logwarden_truncated_lines_total)
printf '\n' >> "$T/logs/zeros.log"
wait_stored $((want + 1)) 20
wait_metric logwarden_truncated_lines_total "" $((trunc0 + 1)) 10
wait_metric logwarden_invalid_lines_total "" $((inv + 1)) 10
# The text file keeps being followed.
"$LW" demo --lines 1000 --seed 14 >> "$T/logs/text.log"
wait_stored $((want + 1001)) 30
n=$(settle)
[ "$n" -eq $((want + 1001)) ] || fail "stored_lines $n, want exactly $((want + 1001))"
http_ingest 5 >/dev/null || fail "HTTP ingest after the binary file"
syslog_tcp 5
wait_stored $((want + 1011))
finish
echo "test_robust_binary: ok"
