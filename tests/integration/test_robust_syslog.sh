#!/usr/bin/env bash
# Issue 3, malformed syslog: random bytes over TCP and UDP, an octet-counting frame with an
# absurd length prefix ("99999999999 x"), a NUL-filled datagram, an empty datagram and a
# connection reset in the middle of a frame cannot take the daemon down, and valid messages
# sent afterwards (on new connections, and over UDP) are counted. SIGTERM exits 0, the store
# is intact. Deterministic: the random bytes come from a fixed seed.
set -euo pipefail
LW=${1:?usage: test_robust_syslog.sh /path/to/logwarden}
. "$(dirname "$0")/tools/robust_lib.sh"
start

python3 - "$SP" <<'EOF'
import random, socket, struct, sys, time
port = int(sys.argv[1])
rnd = random.Random(3)
def tcp(data, linger_reset=False):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    try:
        s.sendall(data)
        if linger_reset:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        else:
            s.shutdown(socket.SHUT_WR)
            while s.recv(4096):
                pass
    except OSError:
        pass
    s.close()
# Random bytes over TCP: 1 MiB on one connection, and 50 short connections.
tcp(bytes(rnd.getrandbits(8) for _ in range(1 << 20)))
for _ in range(50):
    tcp(bytes(rnd.getrandbits(8) for _ in range(rnd.randint(1, 3000))))
# Octet counting with absurd, negative-looking, huge and zero length prefixes.
for junk in (b"99999999999 x", b"99999999999999999999999999 x" * 100, b"18446744073709551616 x",
             b"0 ", b"00000000000000000000000001 a", b"5 ab", b"65537 " + b"b" * 70000,
             b"12345678901234567890"):
    tcp(junk)
# An absurd prefix, then the connection is reset in the middle.
tcp(b"99999999999 " + b"c" * 100000, linger_reset=True)
# A frame that claims 60000 bytes and sends 10, then a reset.
tcp(b"60000 short", linger_reset=True)
# UDP: random datagrams, NUL-filled, empty, maximal.
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for n in (0, 1, 2, 100, 1400, 8192, 65507):
    u.sendto(bytes(rnd.getrandbits(8) for _ in range(n)), ("127.0.0.1", port))
    u.sendto(b"\0" * n, ("127.0.0.1", port))
    time.sleep(0.005)
for _ in range(200):
    u.sendto(bytes(rnd.getrandbits(8) for _ in range(rnd.randint(1, 1500))), ("127.0.0.1", port))
    time.sleep(0.001)
u.close()
EOF
alive "after malformed syslog"
before=$(settle)
note "stored after the junk: $before"
# Valid messages afterwards: TCP on new connections, octet counting, and UDP.
syslog_tcp 100 after
python3 - "$SP" <<'EOF'
import socket, sys
port = int(sys.argv[1])
m = [f"<34>1 2026-11-25T10:01:{i:02d}Z h app 1 - - octet {i}".encode() for i in range(50)]
s = socket.create_connection(("127.0.0.1", port), timeout=10)
s.sendall(b"".join(b"%d " % len(x) + x for x in m))
s.close()
EOF
syslog_udp 50 afterudp
wait_stored $((before + 200))
sleep 0.5
[ "$(stored)" -eq $((before + 200)) ] || fail "stored_lines $(stored), want $((before + 200))"
# The connection count went back to 0 (no connection leaked by the bad frames).
for _ in $(seq 1 50); do
  [ "$(metric logwarden_syslog_connections_open)" -eq 0 ] && break
  sleep 0.1
done
[ "$(metric logwarden_syslog_connections_open)" -eq 0 ] ||
  fail "syslog_connections_open $(metric logwarden_syslog_connections_open) after all closed"
http_ingest 3 >/dev/null || fail "HTTP ingest after malformed syslog"
wait_stored $((before + 203))
finish
echo "test_robust_syslog: ok"
