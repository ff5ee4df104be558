#!/usr/bin/env bash
# The cluster's fence (docs/cluster.md, "Fencing"): as test_cluster.sh, but member a is frozen
# with SIGSTOP instead of killed, and thawed with SIGCONT after b has taken its partitions over.
# a is frozen only once it holds uncommitted lines (it writes every 60 s; its /metrics count what
# it took, ClickHouse what it committed), so it always thaws holding lines of partitions it no
# longer owns and tries to commit them under its old epoch; the ClickHouse store refuses them,
# and the test fails if it does not. ClickHouse's sum of counts must still equal the
# lines produced exactly (a late commit of a would count lines twice), and a, fenced, stops by
# itself with exit status 75 (it would otherwise rejoin the group holding what can never commit,
# and sit on the partitions it is given).
LW=${1:?usage: test_cluster_fence.sh /path/to/logwarden}
FAULT=stop exec bash "$(dirname "$0")/test_cluster.sh" "$LW"
