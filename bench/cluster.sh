#!/usr/bin/env bash
# cluster.sh: the cluster of docs/cluster.md at bench size: tests/integration/test_cluster.sh
# (N=1000000 lines) with the Release binary. Two instances in one consumer group on a
# 4-partition topic, one ClickHouse; one instance is SIGKILLed midway and the other takes over.
# It prints the takeover time, the lines each instance committed, the end-to-end lines/s
# (producing is spread over 40 chunks, so this is bounded by the producer, not the daemons;
# bench/kafka-clickhouse.sh measures one instance's ceiling) and checks ClickHouse's sum of
# counts is exactly N.
#
#   make build && bench/cluster.sh
#   N=200000 bench/cluster.sh
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
LW_BIN=${LW_BIN:-$ROOT/build/logwarden}
[ -x "$LW_BIN" ] || { echo "cluster.sh: no $LW_BIN (make build, or set LW_BIN)" >&2; exit 1; }
N=${N:-1000000} exec bash "$ROOT/tests/integration/test_cluster.sh" "$LW_BIN"
