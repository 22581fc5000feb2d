#!/usr/bin/python3
"""ncclient against sami-agent serving a kernel conntrack table.

Run with Debian's interpreter (it has ncclient, paramiko and lxml):

    /usr/bin/python3 ncclient_conntrack.py HOST PORT USER PASSWORD KNOWN_HOSTS

TestNcclientConntrackAgent (../ncclient_test.go) starts the agent on a fresh
network namespace holding one TCP ESTABLISHED entry
(0/6/10.9.0.1/40000/10.9.0.2/443) and runs this script.

Output, one line each:

  - "ok NAME" or "FAIL NAME: detail" (NAME has no colon): a check;
  - "info NAME: text": informative only;
  - a marker: READY-COMMITTED, ROLLED-BACK, READY-BAD-HELPER, REJECTED,
    READY-BAD-BATCH or REJECTED-BATCH.
    After a marker the script waits for a line on stdin, so that the Go
    test can look at the kernel table (conntrack -L in the namespace) at
    that point. EOF on stdin means the Go test gave up: the script stops.

Exits non-zero when any check failed.

The host key is verified against KNOWN_HOSTS through a one-line OpenSSH
client config naming it as UserKnownHostsFile (ncclient's manager.connect
loads ~/.ssh/known_hosts only, but honours ssh_config); hostkey_verify stays
True and unknown keys are refused.
"""
import os
import sys
import tempfile
import time
import traceback

from ncclient import manager
from ncclient.operations import RPCError

NS = "urn:sami:params:xml:ns:yang:sami-flow-state"
BASE = "urn:ietf:params:xml:ns:netconf:base:1.0"
FILTER = f'<flow-state xmlns="{NS}"/>'

HOST, PORT, USER, PASSWORD, KNOWN_HOSTS = sys.argv[1:6]
PORT = int(PORT)

# The entry the Go test inserted with conntrack -I.
TCP_ID = "0/6/10.9.0.1/40000/10.9.0.2/443"
# The session the confirmed commit installs.
UDP_ID = "0/17/10.9.0.5/5353/10.9.0.6/53"
# A session with a helper the kernel does not know, and valid companions
# committed with it (which must not stay in the kernel when the commit fails).
BAD_ID = "0/17/10.9.0.7/6000/10.9.0.8/69"
GOOD_IDS = [f"0/17/10.9.0.7/{p}/10.9.0.8/69" for p in range(6001, 6005)]

failures = 0


def out(line):
    print(line, flush=True)


class Fail(Exception):
    pass


class Abort(Exception):
    """The Go test closed stdin: stop at once."""


def expect(cond, detail):
    if not cond:
        raise Fail(detail)


def marker(name):
    """Prints a marker and waits until the Go test has looked at the kernel."""
    out(name)
    if sys.stdin.readline() == "":
        raise Abort(f"stdin closed after {name}")


def check(name):
    def deco(fn):
        global failures
        try:
            fn()
            out(f"ok {name}")
        except Abort:
            raise
        except Fail as e:
            failures += 1
            out(f"FAIL {name}: {e}")
        except Exception as e:  # an unexpected exception fails the check, not the run
            failures += 1
            detail = "".join(traceback.format_exception_only(type(e), e)).strip().replace("\n", " | ")
            out(f"FAIL {name}: unexpected {detail}")
        return fn
    return deco


def ssh_config_for(known_hosts):
    fd, path = tempfile.mkstemp(prefix="ncclient-ssh-config-")
    with os.fdopen(fd, "w") as f:
        f.write(f"Host *\n    UserKnownHostsFile {known_hosts}\n")
    return path


SSH_CONFIG = ssh_config_for(KNOWN_HOSTS)


def connect():
    m = manager.connect(host=HOST, port=PORT, username=USER, password=PASSWORD,
                        hostkey_verify=True, ssh_config=SSH_CONFIG,
                        allow_agent=False, look_for_keys=False, timeout=30)
    m.timeout = 60
    return m


def q(*names):
    return "/".join(f"{{{NS}}}{n}" for n in names)


def live(m):
    """<get> with the subtree filter: {session id: session element}, data."""
    r = m.get(filter=("subtree", FILTER))
    expect(r.ok and r.data_ele is not None, f"get reply without <data>: {r.xml}")
    sessions = {s.findtext(q("id")): s for s in r.data_ele.findall(q("flow-state", "sessions", "session"))}
    return sessions, r


def err_str(e):
    return (f"rpc-error type={e.type} tag={e.tag} app-tag={e.app_tag} path={e.path!r} "
            f"message={e.message!r} info={e.info!r}")


def cfg(inner):
    return (f'<config xmlns="{BASE}" xmlns:nc="{BASE}">'
            f'<flow-state xmlns="{NS}"><sessions>{inner}</sessions></flow-state></config>')


def udp(sid, helper=None):
    _, _, src, sport, dst, dport = sid.split("/")
    alg = f"<alg><helper>{helper}</helper></alg>" if helper else ""
    return (f"<session><id>{sid}</id><address-family>ipv4</address-family><protocol>17</protocol>"
            f"<original><source-address>{src}</source-address><destination-address>{dst}</destination-address>"
            f"<source-port>{sport}</source-port><destination-port>{dport}</destination-port></original>"
            f"<timers><remaining>120</remaining></timers>{alg}</session>")


def main():
    a = connect()
    out(f"info session: ncclient session-id {a.session_id}")

    @check("get shows the kernel entry and the capabilities")
    def _():
        sessions, r = live(a)
        expect(TCP_ID in sessions, f"no session {TCP_ID} in {sorted(sessions)}: {r.xml}")
        st = sessions[TCP_ID].findtext(q("tcp", "state"))
        expect(st == "established", f"{TCP_ID} tcp/state {st!r}, want 'established'")
        vendor = r.data_ele.findtext(q("flow-state", "capabilities", "vendor"))
        expect(vendor == "linux", f"capabilities/vendor {vendor!r}, want 'linux': {r.xml}")

    @check("confirmed commit installs a UDP session and rolls back after the timeout")
    def _():
        a.discard_changes()
        a.edit_config(target="candidate", config=cfg(udp(UDP_ID)))
        a.commit(confirmed=True, timeout="2")
        t0 = time.monotonic()
        marker("READY-COMMITTED")
        # Once a second, no faster: a confirmed-commit timer may need the
        # session to be idle to fire.
        deadline = t0 + 15
        while True:
            sessions, _ = live(a)
            if UDP_ID not in sessions:
                break
            expect(time.monotonic() < deadline,
                   f"{UDP_ID} still there {time.monotonic() - t0:.0f} s after a confirmed commit with confirm-timeout 2")
            time.sleep(1)
        out(f"info rollback: seen {time.monotonic() - t0:.1f} s after the confirmed commit")
        expect(TCP_ID in sessions, f"the rollback also removed {TCP_ID}: {sorted(sessions)}")
        marker("ROLLED-BACK")

    def bad_commit(sessions, bad_ids):
        """Commits sessions (one with an unknown helper), which must fail with
        an rpc-error and leave <get> and running without any of bad_ids."""
        a.discard_changes()
        try:
            a.edit_config(target="candidate", config=cfg("".join(sessions)))
            try:
                a.commit()
            except RPCError as e:
                errs = e.errlist or [e]
                for x in errs:
                    out(f"info bad helper commit: tag={x.tag} message={x.message!r}")
                x = errs[0]
                expect(x.tag, f"rpc-error without an error-tag: {err_str(x)}")
                expect(x.type == "application", f"error-type {x.type!r}, want application: {err_str(x)}")
                expect(x.message and x.message.strip(), f"rpc-error without an error-message: {err_str(x)}")
            else:
                raise Fail("the commit succeeded; want an rpc-error")
            live_ids, _ = live(a)
            left = sorted(set(live_ids) & set(bad_ids))
            expect(not left, f"<get> after the failed commit (rpc-error {x.tag}: {x.message!r}) shows {left}")
            expect(TCP_ID in live_ids, f"{TCP_ID} gone after the failed commit: {sorted(live_ids)}")
            running = a.get_config(source="running", filter=("subtree", FILTER)).data_ele
            rids = {s.text for s in running.findall(q("flow-state", "sessions", "session", "id"))}
            left = sorted(rids & set(bad_ids))
            expect(not left, f"running after the failed commit holds {left}")
        finally:
            a.discard_changes()

    marker("READY-BAD-HELPER")

    @check("commit of a session with an unknown helper fails with an rpc-error")
    def _():
        bad_commit([udp(BAD_ID, helper="nosuchhelper")], [BAD_ID])

    marker("REJECTED")
    marker("READY-BAD-BATCH")

    @check("commit of valid sessions with one unknown helper fails and writes none of them")
    def _():
        # The order in which the agent writes a commit's sessions is not
        # fixed; a few attempts with several valid companions make it very
        # likely that some are written after the refused one.
        for attempt in range(3):
            bad_commit([udp(i) for i in GOOD_IDS] + [udp(BAD_ID, helper="nosuchhelper")], GOOD_IDS + [BAD_ID])

    marker("REJECTED-BATCH")

    a.close_session()


try:
    main()
except Abort as e:
    out(f"FAIL protocol: {e}")
    failures += 1
finally:
    os.unlink(SSH_CONFIG)
sys.exit(1 if failures else 0)
