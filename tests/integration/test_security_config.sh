#!/usr/bin/env bash
# Security details of the configuration: a bearer token that guards nothing (one space, a few
# characters) is refused; an alert sink name that is not a plain file name ("../../x": it names
# the webhook's spool folder) is refused; a webhook URL's user:password@ and ?query never reach
# the log; the store and the data directory logwarden creates are private (0600 / 0700).
set -euo pipefail
LW=${1:?usage: test_security_config.sh /path/to/logwarden}
T=$(mktemp -d)
trap 'kill "$PID" 2>/dev/null || true; rm -rf "$T"' EXIT
PID=
fail() { echo "FAIL: $*" >&2; exit 1; }

# --- tokens
for tok in " " "abc" "has space in it" ; do
  if LOGWARDEN_HTTP_TOKEN="$tok" "$LW" run -d "$T/d-tok" --no-syslog --http 127.0.0.1:0 \
    </dev/null >"$T/tok.out" 2>&1; then
    fail "token '$tok' was accepted"
  fi
  grep -q "HTTP token must be at least" "$T/tok.out" || fail "token '$tok': $(cat "$T/tok.out")"
done
echo "ok: weak tokens refused"

# --- sink names
printf 'alerts:\n  sinks:\n    - {type: webhook, name: "../../x", url: "http://127.0.0.1:9/a"}\n' \
  >"$T/bad-name.yaml"
if "$LW" run -d "$T/d-name" --no-syslog --no-http --stdin -c "$T/bad-name.yaml" \
  </dev/null >"$T/name.out" 2>&1; then
  fail "sink name ../../x was accepted"
fi
grep -q "sink name '../../x' is not allowed" "$T/name.out" || fail "sink name: $(cat "$T/name.out")"
[ ! -e "$T/x" ] && [ ! -e "$T/d-name/../x" ] || fail "a folder was made outside the data dir"
echo "ok: unsafe sink names refused"

# --- webhook URL secrets never logged (the receiver is down: the sink logs its URL)
printf 'alerts:\n  sinks:\n    - {type: webhook, name: hook, url: "http://user:pa55word@127.0.0.1:9/alerts?token=t0psecret"}\n' \
  >"$T/hook.yaml"
"$LW" demo --lines 30000 --anomalies off --seed 5 --out "$T/history.log"
"$LW" train --from "$T/history.log" -d "$T/d" >/dev/null 2>&1 || fail "train failed"
printf 'never seen before: a brand new error text %s\n' 1 2 3 >"$T/live.log"
"$LW" run -d "$T/d" --no-syslog --no-http --stdin -c "$T/hook.yaml" --threshold 0.5 \
  <"$T/live.log" >"$T/hook.out" 2>"$T/hook.err" || true
grep -q "sink hook: http://\*\*\*@127.0.0.1:9/alerts?\*\*\*" "$T/hook.err" ||
  fail "the sink did not log its (redacted) URL, so this proves nothing: $(tail -5 "$T/hook.err")"
! grep -q "pa55word\|t0psecret" "$T/hook.err" "$T/hook.out" || fail "a secret reached the log: $(grep -h "pa55word\|t0psecret" "$T/hook.err" "$T/hook.out")"
echo "ok: webhook secrets not logged"

# --- private files
mode() { stat -c %a "$1"; }
[ "$(mode "$T/d")" = 700 ] || fail "data dir mode $(mode "$T/d"), want 700"
[ "$(mode "$T/d/logwarden.db")" = 600 ] || fail "logwarden.db mode $(mode "$T/d/logwarden.db"), want 600"
echo "ok: store files private"
echo "test_security_config: ok"
