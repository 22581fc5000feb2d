#!/usr/bin/python3
"""Conformance checks of sami's NETCONF server, driven by ncclient.

Run with Debian's interpreter (it has ncclient, paramiko and lxml):

    /usr/bin/python3 conformance.py HOST PORT USER PASSWORD KEYFILE KNOWN_HOSTS

Prints one line per check, "ok NAME" or "FAIL NAME: detail" (NAME has no
colon), plus "info NAME: text" lines that are only informative, and exits
non-zero when any check failed. TestInteropNcclient (../../ncclient_test.go)
runs it against our server and turns every line into a subtest.

The host key is verified against KNOWN_HOSTS: ncclient's manager.connect
always loads ~/.ssh/known_hosts only, but it honours UserKnownHostsFile from
an OpenSSH client config passed as ssh_config, so we write a one-line config
naming our file (see connect below). hostkey_verify stays True and the
default unknown_host_cb refuses unknown keys.
"""
import os
import re
import sys
import tempfile
import time
import traceback

from lxml import etree
from ncclient import manager
from ncclient.operations import RPCError
from ncclient.transport.errors import SSHUnknownHostError, AuthenticationError

NS = "urn:sami:params:xml:ns:yang:sami-flow-state"
BASE = "urn:ietf:params:xml:ns:netconf:base:1.0"
MODULE_REV = "2026-11-21"
FILTER = f'<flow-state xmlns="{NS}"><sessions/></flow-state>'

HOST, PORT, USER, PASSWORD, KEYFILE, KNOWN_HOSTS = sys.argv[1:7]
PORT = int(PORT)

failures = 0


def out(line):
    print(line, flush=True)


def ssh_config_for(known_hosts):
    """An OpenSSH client config whose only setting is UserKnownHostsFile."""
    fd, path = tempfile.mkstemp(prefix="ncclient-ssh-config-")
    with os.fdopen(fd, "w") as f:
        f.write(f"Host *\n    UserKnownHostsFile {known_hosts}\n")
    return path


SSH_CONFIG = ssh_config_for(KNOWN_HOSTS)


def connect(user=USER, password=PASSWORD, key=None, ssh_config=SSH_CONFIG):
    kw = dict(host=HOST, port=PORT, username=user, hostkey_verify=True,
              ssh_config=ssh_config, allow_agent=False, look_for_keys=False,
              timeout=30)
    if key:
        kw["key_filename"] = key
    else:
        kw["password"] = password
    m = manager.connect(**kw)
    m.timeout = 60
    return m


def cfg(inner):
    return (f'<config xmlns="{BASE}" xmlns:nc="{BASE}">'
            f'<flow-state xmlns="{NS}"><sessions>{inner}</sessions></flow-state></config>')


def sid(port):
    return f"0/6/10.0.0.1/{port}/192.0.2.1/443"


def sess(port, op=None):
    attr = f' nc:operation="{op}"' if op else ""
    return (f'<session{attr}><id>{sid(port)}</id><address-family>ipv4</address-family>'
            f'<protocol>6</protocol><original><source-address>10.0.0.1</source-address>'
            f'<destination-address>192.0.2.1</destination-address><source-port>{port}</source-port>'
            f'<destination-port>443</destination-port></original></session>')


def ids_of(data_ele):
    path = f"{{{NS}}}flow-state/{{{NS}}}sessions/{{{NS}}}session/{{{NS}}}id"
    return sorted(e.text for e in data_ele.findall(path))


def ids(m, ds):
    return ids_of(m.get_config(source=ds, filter=("subtree", FILTER)).data_ele)


def reset(m):
    """Empties candidate and running (discard, then remove what running holds)."""
    m.discard_changes()
    have = ids(m, "running")
    if not have:
        return
    m.edit_config(target="candidate", config=cfg("".join(
        f'<session nc:operation="remove"><id>{i}</id></session>' for i in have)))
    m.commit()


class Fail(Exception):
    pass


def expect(cond, detail):
    if not cond:
        raise Fail(detail)


def err_str(e):
    return (f"rpc-error type={e.type} tag={e.tag} app-tag={e.app_tag} path={e.path!r} "
            f"message={e.message!r} info={e.info!r}")


def rpc_error(fn):
    """Runs fn, which must fail with an rpc-error; returns the RPCError."""
    try:
        fn()
    except RPCError as e:
        if e.errlist:  # several errors: look at the first, show all
            out(f"info several rpc-errors: {[err_str(x) for x in e.errlist]}")
            return e.errlist[0]
        return e
    raise Fail("succeeded, want an rpc-error")


def check(name):
    def deco(fn):
        global failures
        try:
            fn()
            out(f"ok {name}")
        except Fail as e:
            failures += 1
            out(f"FAIL {name}: {e}")
        except Exception as e:  # an unexpected exception fails the check, not the run
            failures += 1
            detail = "".join(traceback.format_exception_only(type(e), e)).strip().replace("\n", " | ")
            out(f"FAIL {name}: unexpected {detail}")
        return fn
    return deco


a = connect()
out(f"info session: ncclient session-id {a.session_id}")


@check("capabilities")
def _():
    caps = set(a.server_capabilities)
    for c in ("urn:ietf:params:netconf:base:1.1",
              "urn:ietf:params:netconf:capability:candidate:1.0",
              "urn:ietf:params:netconf:capability:confirmed-commit:1.1"):
        expect(c in caps, f"{c} not announced: {sorted(caps)}")
    mods = [c for c in caps if c.startswith(NS + "?")]
    expect(mods, f"no {NS} capability: {sorted(caps)}")
    expect(any("module=sami-flow-state" in c and f"revision={MODULE_REV}" in c for c in mods),
           f"module capability without module=sami-flow-state&revision={MODULE_REV}: {mods}")


@check("get and get-config with a subtree filter")
def _():
    reset(a)
    r = a.get(filter=("subtree", FILTER))
    expect(r.ok, f"get: {r.xml}")
    expect(r.data_ele is not None and r.data_ele.tag == f"{{{BASE}}}data", f"get reply without <data>: {r.xml}")
    expect(ids_of(r.data_ele) == [], f"get on an empty server returned sessions: {r.xml}")
    for ds in ("running", "candidate"):
        r = a.get_config(source=ds, filter=("subtree", FILTER))
        expect(r.data_ele is not None, f"get-config {ds} without <data>: {r.xml}")
        expect(ids_of(r.data_ele) == [], f"get-config {ds} not empty: {r.xml}")


@check("edit-config candidate, commit, read back")
def _():
    reset(a)
    a.edit_config(target="candidate", config=cfg(sess(1001) + sess(1002)))
    expect(ids(a, "candidate") == [sid(1001), sid(1002)], f"candidate {ids(a, 'candidate')}")
    expect(ids(a, "running") == [], f"running changed before commit: {ids(a, 'running')}")
    a.commit()
    expect(ids(a, "running") == [sid(1001), sid(1002)], f"running after commit {ids(a, 'running')}")
    r = a.get(filter=("subtree", FILTER))
    expect(ids_of(r.data_ele) == [sid(1001), sid(1002)], f"get after commit: {r.xml}")
    s = r.data_ele.find(f"{{{NS}}}flow-state/{{{NS}}}sessions/{{{NS}}}session")
    got = {k: s.findtext(f"{{{NS}}}{k}") for k in ("address-family", "protocol")}
    got["source-address"] = s.findtext(f"{{{NS}}}original/{{{NS}}}source-address")
    want = {"address-family": "ipv4", "protocol": "6", "source-address": "10.0.0.1"}
    expect(got == want, f"read back {got}, want {want}: {etree.tostring(s).decode()}")
    # A subtree filter with a content-match node selects one entry.
    one = f'<flow-state xmlns="{NS}"><sessions><session><id>{sid(1002)}</id></session></sessions></flow-state>'
    r = a.get_config(source="running", filter=("subtree", one))
    expect(ids_of(r.data_ele) == [sid(1002)], f"content-match filter: {r.xml}")
    reset(a)
    expect(ids(a, "running") == [], f"running after removing: {ids(a, 'running')}")


@check("discard-changes")
def _():
    reset(a)
    a.edit_config(target="candidate", config=cfg(sess(1001)))
    expect(ids(a, "candidate") == [sid(1001)], f"candidate {ids(a, 'candidate')}")
    a.discard_changes()
    expect(ids(a, "candidate") == [], f"candidate after discard {ids(a, 'candidate')}")


@check("lock-denied for a second session")
def _():
    a.lock("candidate")
    try:
        with connect() as b:
            e = rpc_error(lambda: b.lock("candidate"))
            expect(e.tag == "lock-denied", f"second lock: {err_str(e)}")
            expect(e.info, f"lock-denied without error-info: {err_str(e)}")
            info = etree.fromstring(e.info.encode())
            holder = info.findtext(f"{{{BASE}}}session-id")
            expect(holder == str(a.session_id),
                   f"error-info session-id {holder!r}, holder is {a.session_id}: {e.info}")
    finally:
        a.unlock("candidate")


def poll(within, cond):
    deadline = time.monotonic() + within
    while not cond():
        if time.monotonic() > deadline:
            return False
        time.sleep(1)
    return True


@check("confirmed commit rolls back after the timeout")
def _():
    reset(a)
    a.edit_config(target="candidate", config=cfg(sess(1001)))
    a.commit(confirmed=True, timeout="2")
    expect(ids(a, "running") == [sid(1001)], f"running after confirmed commit {ids(a, 'running')}")
    expect(poll(15, lambda: ids(a, "running") == []), f"no rollback within 15 s: {ids(a, 'running')}")
    expect(ids(a, "candidate") == [], f"candidate after rollback {ids(a, 'candidate')}")


@check("confirming commit keeps the change")
def _():
    reset(a)
    a.edit_config(target="candidate", config=cfg(sess(1001)))
    a.commit(confirmed=True, timeout="2")
    a.commit()
    time.sleep(4)
    expect(ids(a, "running") == [sid(1001)], f"running after confirming commit and the timeout {ids(a, 'running')}")
    reset(a)


@check("cancel-commit rolls back at once")
def _():
    reset(a)
    a.edit_config(target="candidate", config=cfg(sess(1002)))
    a.commit(confirmed=True, timeout="60")
    expect(ids(a, "running") == [sid(1002)], f"running after confirmed commit {ids(a, 'running')}")
    a.cancel_commit()
    expect(ids(a, "running") == [], f"running after cancel-commit {ids(a, 'running')}")


@check("persist-id confirms from a second session")
def _():
    reset(a)
    b = connect()
    b.edit_config(target="candidate", config=cfg(sess(1001) + sess(1002)))
    b.commit(confirmed=True, timeout="3", persist="sami-ncclient-1")
    b.close_session()
    expect(ids(a, "running") == [sid(1001), sid(1002)],
           f"persist commit did not survive its session: {ids(a, 'running')}")
    with connect() as c:
        c.commit(persist_id="sami-ncclient-1")
        time.sleep(5)
        expect(ids(c, "running") == [sid(1001), sid(1002)],
               f"running after persist-id confirm and the timeout {ids(c, 'running')}")
    reset(a)


@check("key auth")
def _():
    with connect(key=KEYFILE, password=None) as k:
        expect(k.session_id, "no session-id")
        k.get(filter=("subtree", FILTER))


@check("password auth")
def _():
    with connect() as p:
        expect(p.session_id, "no session-id")
        p.get_config(source="running", filter=("subtree", FILTER))
    try:
        connect(password="wrong-pw").close_session()
    except AuthenticationError:
        return
    raise Fail("a wrong password was accepted")


@check("host key mismatch is refused")
def _():
    # Our client key is an ed25519 key the server does not hold as host key.
    import paramiko
    other = paramiko.Ed25519Key(filename=KEYFILE)
    kh = tempfile.NamedTemporaryFile("w", prefix="known_hosts-", delete=False)
    kh.write(f"[{HOST}]:{PORT} {other.get_name()} {other.get_base64()}\n")
    kh.close()
    conf = ssh_config_for(kh.name)
    try:
        connect(ssh_config=conf).close_session()
    except SSHUnknownHostError:
        return
    finally:
        os.unlink(kh.name)
        os.unlink(conf)
    raise Fail("connected although known_hosts lists another key")


@check("read-only user gets access-denied on edit-config but can get")
def _():
    with connect(user="viewer", password="viewer-pw") as v:
        r = v.get(filter=("subtree", FILTER))
        expect(r.data_ele is not None, f"viewer get: {r.xml}")
        e = rpc_error(lambda: v.edit_config(target="candidate", config=cfg(sess(1001))))
        expect(e.tag == "access-denied", f"viewer edit-config: {err_str(e)}")
    a.discard_changes()
    expect(ids(a, "candidate") == [], f"viewer's edit reached the candidate: {ids(a, 'candidate')}")


error_paths = []  # (check name, RPCError) of the bad edits that carried an error-path


def bad_edit(name, config, tags, path_suffix=None, info=None):
    @check(name)
    def _():
        a.discard_changes()
        try:
            e = rpc_error(lambda: a.edit_config(target="candidate", config=config))
            out(f"info {name}: {err_str(e)}")
            expect(e.tag in tags, f"tag {e.tag!r}, want one of {tags}: {err_str(e)}")
            expect(e.type in ("protocol", "application", "rpc"), f"error-type {e.type!r}")
            if path_suffix and e.path:  # error-path is optional, but must be right when given
                p = e.path.strip()
                expect(p.endswith(path_suffix), f"error-path {p!r} does not end with {path_suffix!r}")
                error_paths.append((name, e))
            if info and e.info:
                got = etree.fromstring(e.info.encode()).findtext(f"{{{BASE}}}{info[0]}")
                got = got.strip() if got is not None else None
                expect(got is not None and (got == info[1] or got.split(":")[-1] == info[1]),
                       f"error-info {info[0]} {got!r}, want {info[1]!r}: {e.info}")
        finally:
            a.discard_changes()


bad_edit("rpc-error unknown-element",
         cfg(sess(1001).replace("<protocol>", "<frobnicator>1</frobnicator><protocol>")),
         ("unknown-element",), "frobnicator", ("bad-element", "frobnicator"))
bad_edit("rpc-error invalid-value for protocol 600",
         cfg(sess(1001).replace("<protocol>6<", "<protocol>600<")),
         ("invalid-value",), "protocol")
bad_edit("rpc-error unknown-namespace",
         f'<config xmlns="{BASE}"><flow-state xmlns="urn:example:not-sami"><sessions/></flow-state></config>',
         ("unknown-namespace",), None, ("bad-namespace", "urn:example:not-sami"))


@check("rpc-error error-path prefixes are declared")
def _():
    # RFC 6241 4.3: error-path is an XPath evaluated with the namespace
    # declarations in scope on <rpc-error>, so every prefix it uses must be
    # an XML prefix declared there and bound to the module's namespace.
    expect(error_paths, "no bad edit returned an error-path")
    for name, e in error_paths:
        p = e.path.strip()
        scope = e.xml.nsmap
        for prefix in sorted(set(re.findall(r"/([A-Za-z_][\w.-]*):", p))):
            expect(prefix in scope, f"{name}: error-path {p!r} uses prefix {prefix!r}, but no xmlns:{prefix} "
                   f"is in scope on <rpc-error> (in scope: {scope}); reply: "
                   f"{etree.tostring(e.xml.getroottree()).decode()}")
            expect(scope[prefix] == NS, f"{name}: error-path prefix {prefix!r} is bound to {scope[prefix]!r}")


@check("rpc-error session without its key")
def _():
    a.discard_changes()
    try:
        e = rpc_error(lambda: a.edit_config(target="candidate", config=cfg(
            "<session><address-family>ipv4</address-family><protocol>6</protocol></session>")))
        out(f"info session without its key: {err_str(e)}")
        expect(e.tag, f"empty error-tag: {err_str(e)}")
        expect(e.tag in ("missing-element", "data-missing"), f"tag {e.tag!r}: {err_str(e)}")
    finally:
        a.discard_changes()


@check("rpc-error data-exists on create of an existing session")
def _():
    reset(a)
    try:
        a.edit_config(target="candidate", config=cfg(sess(1001)))
        e = rpc_error(lambda: a.edit_config(target="candidate", config=cfg(sess(1001, "create"))))
        out(f"info data-exists: {err_str(e)}")
        expect(e.tag == "data-exists", f"{err_str(e)}")
    finally:
        a.discard_changes()


@check("rpc-error data-missing on delete of a missing session")
def _():
    reset(a)
    try:
        e = rpc_error(lambda: a.edit_config(target="candidate", config=cfg(
            f'<session nc:operation="delete"><id>{sid(4242)}</id></session>')))
        out(f"info data-missing: {err_str(e)}")
        expect(e.tag == "data-missing", f"{err_str(e)}")
    finally:
        a.discard_changes()


@check("rpc-error operation-not-supported for an unknown rpc")
def _():
    e = rpc_error(lambda: a.dispatch(etree.fromstring("<frobnicate/>")))
    out(f"info unknown rpc: {err_str(e)}")
    expect(e.tag == "operation-not-supported", f"{err_str(e)}")


for timeout in ("0", "abc"):
    @check(f"rpc-error commit with confirm-timeout {timeout}")
    def _():
        reset(a)
        a.edit_config(target="candidate", config=cfg(sess(1001)))
        try:
            e = rpc_error(lambda: a.commit(confirmed=True, timeout=timeout))
            out(f"info confirm-timeout {timeout}: {err_str(e)}")
            expect(e.tag in ("invalid-value", "malformed-message", "bad-element"), f"{err_str(e)}")
            expect(ids(a, "running") == [], f"running changed by the rejected commit {ids(a, 'running')}")
        finally:
            a.discard_changes()
            reset(a)


def bad_get(name, rpc, tags):
    @check(name)
    def _():
        e = rpc_error(lambda: a.dispatch(etree.fromstring(rpc)))
        out(f"info {name}: {err_str(e)}")
        expect(e.tag in tags, f"tag {e.tag!r}, want one of {tags}: {err_str(e)}")


bad_get("rpc-error malformed filter type",
        f'<get xmlns="{BASE}"><filter type="frob"><flow-state xmlns="{NS}"/></filter></get>',
        ("bad-attribute", "invalid-value", "operation-not-supported"))
bad_get("rpc-error xpath filter without select",
        f'<get-config xmlns="{BASE}"><source><running/></source><filter type="xpath"/></get-config>',
        ("missing-attribute", "operation-not-supported", "invalid-value", "bad-attribute"))


@check("server state is clean at the end")
def _():
    a.discard_changes()
    expect(ids(a, "running") == [] and ids(a, "candidate") == [],
           f"running {ids(a, 'running')} candidate {ids(a, 'candidate')}")


a.close_session()
os.unlink(SSH_CONFIG)
sys.exit(1 if failures else 0)
