#!/usr/bin/env bash
# The kill-and-rotate soak (bench/kill-rotate-soak.sh) at CI size: the daemon is killed with
# SIGKILL 5 times while the tailed file is rotated (numbered, the older ones compressed) every
# 0.3-1 s, each downtime spanning two rotations. No line may be lost; at most one group per kill
# may be counted twice.
set -euo pipefail
LW=${1:?usage: test_kill_rotate.sh /path/to/logwarden}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
KILLS=${KILLS:-5} ROT_MIN=0.3 ROT_MAX=1 UP_MIN=0.5 UP_MAX=1.5 RATE=5000 \
  bash "$HERE/../../bench/kill-rotate-soak.sh" "$LW"
