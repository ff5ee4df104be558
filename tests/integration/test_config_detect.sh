#!/usr/bin/env bash
# The detect: and alerts: configuration of logwarden run, through the binary: a file with every
# key starts and stops cleanly (exit 0), bad values stop it with exit 2 and a message naming the
# key, the new flags (--threshold, --alert-file, --alert-webhook, --no-detect) are checked and
# take effect, and with no sink configured alerts go to stdout. The field-by-field values are
# checked by tests/unit/test_run_conf.c.
# usage: bash test_config_detect.sh /path/to/logwarden   (exit 0 pass, 1 fail)
set -euo pipefail
LW=${1:?usage: test_config_detect.sh /path/to/logwarden}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*"; [ -f "$T/err" ] && tail -20 "$T/err"; exit 1; }

# Runs the daemon on stdin only (it stops at the end of its input) with the lines of $T/in.
run() {
  "$LW" run --data-dir "$T/data" --no-syslog --no-http --stdin "$@" <"$T/in" >"$T/out" 2>"$T/err"
}

# Exit 2 and $want on stderr for the configuration text $1 (plus flags).
expect_bad() {
  local yaml=$1 want=$2 rc=0
  shift 2
  printf '%s\n' "$yaml" >"$T/bad.yaml"
  : >"$T/in"
  run --config "$T/bad.yaml" "$@" || rc=$?
  [ "$rc" = 2 ] || fail "exit $rc, want 2, for: $yaml $*"
  grep -qF -- "$want" "$T/err" || fail "no '$want' in stderr for: $yaml $*"
}

# 1. Every key (a webhook to a closed port only spools: the daemon still stops with 0).
cat >"$T/full.yaml" <<EOF
detect:
  enabled: true
  threshold: 0.999
  new_template: {enabled: true, warmup_lines: 20000, warmup: 60s}
  volume: {enabled: true, window: 10s, warmup_windows: 30, max_series: 50000, per_source: true, min_count: 10}
  level: {enabled: true, warmup_windows: 30, max_sources: 10000, min_count: 10}
  session: {enabled: true, key: 'blk_-?\d+', timeout: 60s, terminal: [12, 40], max_open: 100000, max_events: 512}
  sequence: {enabled: true, history: 3, top: 16, warmup_sessions: 200, max_contexts: 200000}
  session_counts: {enabled: true, warmup_sessions: 500, max_train: 20000, support: 0.998, pca_alert: false}
  params: {enabled: true, warmup_values: 200, max_places: 20000, max_values: 32}
alerts:
  cooldown: 5m
  group: 60s
  rate_per_min: 60
  burst: 20
  critical_score: 0.99999
  max_fingerprints: 100000
  sinks:
    - {type: stdout}
    - {type: file, path: $T/alerts.jsonl}
    - {type: webhook, url: 'http://127.0.0.1:9/api/v2/alerts', format: alertmanager, token: t0k,
       spool_dir: $T/spool, spool_max: 64MiB, timeout: 1s, backoff_min: 500ms, backoff_max: 60s,
       queue: 10000, name: am}
EOF
echo "2026-11-25T10:00:00Z INFO blk_1 opened" >"$T/in"
run --config "$T/full.yaml" || fail "every key: exit $?"

# 2. Bad values: exit 2, the key named.
expect_bad 'detect: {threshold: 1.5}' \
  "detect.threshold: '1.5' is not a number in (0, 1]"
expect_bad 'detect: {session_counts: {support: 0}}' \
  "detect.session_counts.support: '0' is not a number in (0, 1]"
expect_bad 'detect: {sequence: {history: 11}}' \
  "detect.sequence.history: '11' is not a whole number from 1 to 10"
expect_bad 'detect: {sequence: {top: 0}}' \
  "detect.sequence.top: '0' is not a whole number from 1 to 16"
expect_bad "detect: {session: {key: 'blk_(('}}" \
  "detect.session.key: 'blk_((' is not a PCRE2 pattern"
expect_bad 'detect: {volume: {windw: 5s}}' \
  "bad.yaml:1: detect.volume: unknown key 'windw' (did you mean 'window'?)"
expect_bad 'alerts: {sinks: [{type: email}]}' \
  "alerts.sinks[0].type: 'email' is not stdout, file or webhook"
expect_bad 'alerts: {sinks: [{type: webhook}]}' 'alerts.sinks[0]: a webhook sink needs a url'
expect_bad "alerts: {sinks: [{type: webhook, url: 'ftp://h/'}]}" \
  "alerts.sinks[0].url: 'ftp://h/' is not a URL starting with http:// or https://"
expect_bad "alerts: {sinks: [{type: webhook, url: 'http://h/', format: xml}]}" \
  "alerts.sinks[0].format: 'xml' is not json or alertmanager"
expect_bad 'alerts: {sinks: [{type: stdout}, {type: file}]}' \
  'alerts.sinks[1]: a file sink needs a path'
expect_bad "alerts: {sinks: [$(printf '{type: stdout, name: s%d}, ' 1 2 3 4 5 6 7 8){type: stdout}]}" \
  'alerts.sinks: 9 sinks, at most 8'
expect_bad '' "--threshold: value: '0' is not a number in (0, 1]" --threshold 0
expect_bad '' "--alert-webhook: value: 'localhost:9093' is not a URL starting with http://" \
  --alert-webhook localhost:9093

# 3. The flags take effect. New templates are reported after 5 lines, at a threshold the
#    new line reaches; --alert-file replaces the default stdout sink.
printf 'detect:\n  new_template: {warmup_lines: 5, warmup: 0}\n' >"$T/nt.yaml"
for i in $(seq 1 50); do
  echo "2026-11-25T10:00:$(printf %02d $((i % 60)))Z INFO worker $i finished job $i ok"
done >"$T/in"
echo "2026-11-25T10:01:00Z ERROR disk controller reset on bus 3" >>"$T/in"
run --config "$T/nt.yaml" --threshold 0.5 --alert-file "$T/flag.jsonl" || fail "--alert-file: exit $?"
grep -q '"detector":"new_template"' "$T/flag.jsonl" || fail "no new_template alert in the --alert-file file"
grep -q 'new_template' "$T/out" && fail "an alert on stdout although a sink was configured"

# No sink at all: the alert goes to stdout.
rm -rf "$T/data"
run --config "$T/nt.yaml" --threshold 0.5 || fail "default sink: exit $?"
grep -q 'new_template' "$T/out" || fail "no alert on stdout with no sink configured"

# --threshold above the score: nothing; --no-detect: nothing.
rm -rf "$T/data" "$T/flag.jsonl"
run --config "$T/nt.yaml" --threshold 0.9999999 --alert-file "$T/flag.jsonl" || fail "exit $?"
[ ! -s "$T/flag.jsonl" ] || fail "an alert below --threshold: $(cat "$T/flag.jsonl")"
rm -rf "$T/data"
run --config "$T/nt.yaml" --threshold 0.5 --no-detect --alert-file "$T/flag.jsonl" || fail "exit $?"
[ ! -s "$T/flag.jsonl" ] || fail "an alert with --no-detect"

"$LW" run --help | grep -q -- '--alert-webhook URL' || fail "--help does not list --alert-webhook"
echo "PASS"
