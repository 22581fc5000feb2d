#!/usr/bin/python3
"""Times ncclient <get>s of all sessions from a NETCONF server.

    /usr/bin/python3 bench_get.py HOST PORT USER PASSWORD KNOWN_HOSTS N

Connects once (verifying the host key against KNOWN_HOSTS, see
conformance.py), does one warm-up <get>, prints "ready", waits for a line on
stdin, then times N <get>s with the subtree filter
<flow-state xmlns=NS><sessions/></flow-state>. Each reply is parsed by
ncclient into lxml, and the <session> elements are counted there. Prints

    seconds_per_get SECONDS (wall time of the N gets divided by N)
    sessions COUNT          (sessions in the last reply; every reply must agree)
    reply_bytes BYTES       (size of the <rpc-reply> document, UTF-8)

BenchmarkNcclientGet100k (../../ncclient_test.go) runs it.
"""
import os
import sys
import tempfile
import time

from ncclient import manager

NS = "urn:sami:params:xml:ns:yang:sami-flow-state"
FILTER = f'<flow-state xmlns="{NS}"><sessions/></flow-state>'
SESSION = f"{{{NS}}}flow-state/{{{NS}}}sessions/{{{NS}}}session"

host, port, user, password, known_hosts, n = sys.argv[1:7]
n = int(n)

fd, ssh_config = tempfile.mkstemp(prefix="ncclient-ssh-config-")
with os.fdopen(fd, "w") as f:
    f.write(f"Host *\n    UserKnownHostsFile {known_hosts}\n")
m = manager.connect(host=host, port=int(port), username=user, password=password,
                    hostkey_verify=True, ssh_config=ssh_config, allow_agent=False,
                    look_for_keys=False, timeout=30)
os.unlink(ssh_config)
m.timeout = 600
m.huge_tree = True  # the reply has far more than lxml's default node limits


def get():
    r = m.get(filter=("subtree", FILTER))
    return r, len(r.data_ele.findall(SESSION))


r, count = get()  # warm-up
print("ready", flush=True)
sys.stdin.readline()
t0 = time.perf_counter()
counts = set()
for _ in range(n):
    r, count = get()
    counts.add(count)
elapsed = time.perf_counter() - t0
if len(counts) != 1:
    sys.exit(f"replies held different numbers of sessions: {sorted(counts)}")
print("seconds_per_get", elapsed / n, flush=True)  # first: it stops the Go benchmark timer
print("sessions", count)
print("reply_bytes", len(r.xml.encode()), flush=True)
m.close_session()
