#!/usr/bin/env bash
# The cluster's fence (docs/cluster.md, "Fencing"): as test_cluster.sh, but member a is frozen
# with SIGSTOP instead of killed, and thawed with SIGCONT after b has taken its partitions over.
# a then holds lines of partitions it no longer owns and tries to commit them under its old
# epoch; the ClickHouse store refuses them. ClickHouse's sum of counts must still equal the
# lines produced exactly (a late commit of a would count lines twice).
# N=200000: a fenced instance stalls until it is restarted (docs/cluster.md, "Fencing"); with
# more lines the producer is still running when a rejoins the group after its thaw and is given
# partitions back, which it then holds without progress, so their last lines wait for a restart
# that this test does not make.
LW=${1:?usage: test_cluster_fence.sh /path/to/logwarden}
N=${N:-200000} FAULT=stop exec bash "$(dirname "$0")/test_cluster.sh" "$LW"
