#!/usr/bin/env bash
# Issue 3, KNOWN BUG demonstrated (fails until fixed): with the default syslog max_connections
# (10000, LW_SYSLOG_DEFAULT_MAX_CONNS), 10,000 idle TCP connections lock every new syslog TCP
# sender out for up to the idle timeout (300 s): on_accept() closes the new connection at once
# (counted in "rejected", not logged), so its messages are lost while the idle ones hold their
# slots. UDP and HTTP keep working. Same scenario as test_robust_conns.sh, at the default limit.
# Suggested fix: when the table is full, close the least recently active idle connection (the
# idle list is already in that order) instead of the new one, or keep headroom above 10,000.
exec env ROBUST_MAX_CONNS=10000 bash "$(dirname "$0")/test_robust_conns.sh" "$@"
