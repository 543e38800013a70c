"""
The iscsiadm modules against the real iscsiadm (open-iscsi) and Salt's real
cmd.run_all, on node records in a private mount namespace: a temporary
directory is bind-mounted over /etc/iscsi there, so the host's /etc/iscsi is
never written.

This kernel has no iscsi_tcp and iscsid cannot start: records are made with
``iscsiadm -m node -o new`` (what discovery would make), and discovery,
login, sessions and LUN devices fail or stay empty here. The VM lab covers
them with a real kernel.
"""
import logging
import os
import re
import shutil
import stat
import subprocess
import sys
import time

import pytest
import salt.config
import salt.modules.cmdmod as cmdmod
from salt.exceptions import CommandExecutionError
from tests.conftest import load_salt_module

TARGET = "iqn.2024-01.test.nfsha:iscsiadm-functional"
PORTAL = "10.252.50.20"
CHAP = {"username": "nfs-iscsi-user", "password": "Chap-Secret-12"}
MUTUAL = {"username": "debian-iscsi-target", "password": "Mutual-Secret-34"}
SECRETS = (CHAP["password"], MUTUAL["password"])
CONFIGURED = {
    "node.startup": "automatic",
    "node.session.auth.authmethod": "CHAP",
    "node.session.auth.username": CHAP["username"],
    "node.session.auth.password": CHAP["password"],
    "node.session.auth.username_in": MUTUAL["username"],
    "node.session.auth.password_in": MUTUAL["password"],
}
FIRST_RUN_SETTINGS = {
    "node.startup": {"old": "manual", "new": "automatic"},
    "node.session.auth.authmethod": {"old": "None", "new": "CHAP"},
    "node.session.auth.username": {"old": "", "new": CHAP["username"]},
    "node.session.auth.password": "updated",
    "node.session.auth.username_in": {"old": "", "new": MUTUAL["username"]},
    "node.session.auth.password_in": "updated",
}
STATE_FUNCTIONS = ("discover", "node_settings", "check_settings", "node_changes", "node_update",
                   "login", "logout", "sessions", "device")


class MountNamespace:
    """
    A sleeping process in its own mount namespace with ``etc`` over
    /etc/iscsi, and with ``net`` in its own network namespace too: iscsiadm
    finds iscsid at an abstract unix socket name, which is per network
    namespace.
    """

    def __init__(self, etc, net=False):
        self.etc = etc
        self.namespaces = ["--mount", "--net"] if net else ["--mount"]
        self.proc = subprocess.Popen(
            ["unshare", *self.namespaces, "--propagation", "private", "sh", "-c",
             'mount --bind "$0" /etc/iscsi && echo ready && exec sleep infinity', str(etc)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        if self.proc.stdout.readline() != "ready\n":
            self.proc.kill()
            raise RuntimeError(f"private mount namespace failed: {self.proc.communicate()[1]}")

    def prefix(self):
        # nsenter forks only to enter a PID namespace: here it becomes the
        # program, which a timeout then kills.
        return ["nsenter", f"--target={self.proc.pid}", *self.namespaces, "--"]

    def run_all(self, argv, **kwargs):
        """Salt's real cmd.run_all, with the command run inside the namespace."""
        return cmdmod.run_all([*self.prefix(), *argv], **kwargs)

    def iscsiadm(self, *args):
        return subprocess.run([*self.prefix(), "iscsiadm", *args],
                              capture_output=True, text=True, timeout=60, check=True)

    def close(self):
        self.proc.kill()
        self.proc.communicate()


@pytest.fixture
def net():
    """Whether the namespace has a network namespace of its own."""
    return False


@pytest.fixture
def namespace(tmp_path, net):
    if os.geteuid() != 0:
        pytest.skip("needs root (mount namespaces, /etc/iscsi bind mount)")
    for program, package in (("iscsiadm", "open-iscsi"), ("unshare", "util-linux"),
                             ("nsenter", "util-linux")):
        if not shutil.which(program):
            pytest.fail(f"{program} is missing: install the Debian package {package}")
    if not os.path.isdir("/etc/iscsi"):
        pytest.fail("/etc/iscsi is missing: install the Debian package open-iscsi")
    etc = tmp_path / "etc-iscsi"
    etc.mkdir()
    if os.path.exists("/etc/iscsi/iscsid.conf"):
        # The package's defaults, as discovery would apply them to new records.
        shutil.copy("/etc/iscsi/iscsid.conf", etc)
    (etc / "initiatorname.iscsi").write_text("InitiatorName=iqn.2024-01.test.nfsha:initiator\n")
    namespace = MountNamespace(etc, net)
    try:
        yield namespace
    finally:
        namespace.close()
    assert not os.path.exists(f"/etc/iscsi/nodes/{TARGET}"), "the host's /etc/iscsi was written"


@pytest.fixture
def execmod():
    return load_salt_module("_modules", "iscsiadm")


@pytest.fixture
def state():
    return load_salt_module("_states", "iscsiadm")


@pytest.fixture
def opts():
    return {"test": False}


@pytest.fixture
def configure_loader_modules(namespace, execmod, state, opts):
    return {
        cmdmod: {"__opts__": salt.config.DEFAULT_MINION_OPTS.copy(), "__grains__": {},
                 "__context__": {}, "__salt__": {}},
        execmod: {"__salt__": {"cmd.run_all": namespace.run_all}},
        state: {
            "__salt__": {f"iscsiadm.{name}": getattr(execmod, name) for name in STATE_FUNCTIONS},
            "__opts__": opts,
        },
    }


@pytest.fixture
def record(namespace):
    """A node record as SendTargets discovery would make it (tpgt 1)."""
    namespace.iscsiadm("-m", "node", "-o", "new", "-T", TARGET, "-p", f"{PORTAL}:3260,1")
    return namespace.etc / "nodes" / TARGET / f"{PORTAL},3260,1" / "default"


def test_record_settings_through_real_iscsiadm(execmod, record, caplog):
    assert execmod.nodes() == [{"target": TARGET, "portal": f"{PORTAL}:3260", "tpgt": 1}]
    fresh = execmod.node_settings(TARGET, PORTAL)
    assert fresh["node.startup"] == "manual"
    assert fresh["node.session.auth.authmethod"] == "None"
    assert fresh["node.session.auth.password"] == ""

    caplog.set_level(logging.DEBUG)
    assert execmod.node_changes(TARGET, PORTAL, CONFIGURED) == FIRST_RUN_SETTINGS
    assert execmod.node_update(TARGET, PORTAL, CONFIGURED) == sorted(CONFIGURED)
    assert execmod.node_changes(TARGET, PORTAL, CONFIGURED) == {}
    # Salt logged the plain commands (so the capture works) but no secret.
    assert "Executing command nsenter" in caplog.text
    assert not any(secret in caplog.text for secret in SECRETS)

    settings = execmod.node_settings(TARGET, PORTAL)
    assert {name: settings[name] for name in CONFIGURED} == dict(
        CONFIGURED,
        **{"node.session.auth.password": "********", "node.session.auth.password_in": "********"},
    )
    assert not set(SECRETS) & set(settings.values())
    # Stored in clear in the record file, which iscsiadm keeps root-only.
    text = record.read_text()
    assert f"node.session.auth.password = {CHAP['password']}\n" in text
    assert f"node.session.auth.password_in = {MUTUAL['password']}\n" in text
    assert stat.S_IMODE(record.stat().st_mode) == 0o600


def test_changed_secret_is_found_without_showing_it(execmod, record):
    execmod.node_update(TARGET, PORTAL, CONFIGURED)
    wanted = dict(CONFIGURED, **{"node.session.auth.password_in": "Other-Secret-56"})
    changes = execmod.node_changes(TARGET, PORTAL, wanted)
    assert changes == {"node.session.auth.password_in": "updated"}
    execmod.node_update(TARGET, PORTAL, {"node.session.auth.password_in": "Other-Secret-56"})
    assert "node.session.auth.password_in = Other-Secret-56\n" in record.read_text()
    assert execmod.node_changes(TARGET, PORTAL, wanted) == {}


def test_real_iscsiadm_errors(execmod, record):
    with pytest.raises(CommandExecutionError, match="Invalid param name"):
        execmod.node_update(TARGET, PORTAL, {"node.session.auth.bogus": "x"})
    with pytest.raises(CommandExecutionError, match="unknown value format"):
        execmod.node_update(TARGET, PORTAL, {"node.startup": "sometimes"})
    assert execmod.node_settings("iqn.2024-01.test.nfsha:absent", PORTAL) is None


def test_no_sessions_here(execmod, state, record):
    assert execmod.sessions() == []
    assert execmod.logout(TARGET, PORTAL) is False
    assert execmod.device(TARGET, PORTAL, 1) is None
    ret = state.node_logged_out(TARGET, PORTAL)
    assert ret["result"] is True and ret["changes"] == {}


def test_initiator_name_of_this_machine(execmod):
    # Read-only: the file open-iscsi's package generated on this host.
    assert re.fullmatch(r"iqn\.\d{4}-\d{2}\.\S+", execmod.initiator_name() or "")


def test_state_configures_the_record_then_changes_nothing(state, execmod, record, opts, caplog):
    caplog.set_level(logging.DEBUG)
    opts["test"] = True
    would = state.node_logged_in(TARGET, PORTAL, chap=CHAP, mutual_chap=MUTUAL, timeout=0)
    assert would["result"] is None
    assert would["changes"] == {"settings": FIRST_RUN_SETTINGS, "logged_in": True}
    assert execmod.node_settings(TARGET, PORTAL)["node.startup"] == "manual"

    opts["test"] = False
    first = state.node_logged_in(TARGET, PORTAL, chap=CHAP, mutual_chap=MUTUAL, timeout=0)
    # The record is configured; the login needs iscsid and iscsi_tcp (VM lab).
    assert first["changes"] == {"settings": FIRST_RUN_SETTINGS}
    assert first["result"] is False and "iscsid" in first["comment"]
    assert execmod.node_changes(TARGET, PORTAL, CONFIGURED) == {}

    second = state.node_logged_in(TARGET, PORTAL, chap=CHAP, mutual_chap=MUTUAL, timeout=0)
    assert second["changes"] == {}
    assert "iscsid" in second["comment"]
    for ret in (would, first, second):
        assert not any(secret in repr(ret) for secret in SECRETS)
    assert not any(secret in caplog.text for secret in SECRETS)


def test_state_discovers_missing_record(state, namespace):
    # Discovery needs the kernel here too: the state fails, changing nothing.
    ret = state.node_logged_in(TARGET, "127.0.0.1", timeout=0)
    assert ret["result"] is False and ret["changes"] == {}
    assert "Could not perform SendTargets discovery" in ret["comment"]
    assert not (namespace.etc / "nodes").exists()


# iscsid as iscsiadm finds it (open-iscsi usr/mgmt_ipc.h, iscsi_util.c
# setup_abstract_addr), answering nothing: every connection is accepted,
# read from never, and closed after HOLD seconds, so that an iscsiadm
# without a bound fails here after HOLD s instead of hanging the test.
SILENT_ISCSID = """
import socket, sys, threading
server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
server.bind(b"\\0ISCSIADM_ABSTRACT_NAMESPACE")
server.listen(8)
print("ready", flush=True)
while True:
    connection, _ = server.accept()
    threading.Timer(float(sys.argv[1]), connection.close).start()
"""
HOLD = 30


@pytest.fixture
def silent_iscsid(namespace):
    proc = subprocess.Popen(
        ["nsenter", f"--target={namespace.proc.pid}", "--net", "--", sys.executable, "-c",
         SILENT_ISCSID, str(HOLD)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert proc.stdout.readline() == "ready\n", proc.stderr.read()
        yield proc
    finally:
        proc.kill()
        proc.communicate()


def iscsiadm_processes():
    """The iscsiadm processes that work on this test's target."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
                argv = cmdline.read().split(b"\0")
        except OSError:
            continue
        if argv[0].endswith(b"iscsiadm") and TARGET.encode() in argv:
            found.append(int(pid))
    return found


@pytest.mark.parametrize("net", [True])
def test_a_login_iscsid_never_answers_fails_the_state_within_its_bound(state, execmod, record,
                                                                      silent_iscsid):
    execmod.node_update(TARGET, PORTAL, CONFIGURED)
    bound = 3
    started = time.monotonic()
    ret = state.node_logged_in(TARGET, PORTAL, chap=CHAP, mutual_chap=MUTUAL, timeout=0,
                               login_timeout=bound)
    took = time.monotonic() - started
    assert ret["result"] is False
    assert ret["comment"] == (
        f"Target {TARGET} at {PORTAL}: iscsiadm -m node --login did not answer within {bound} s "
        "(hung iscsid?)"
    )
    assert ret["changes"] == {}
    # Well short of the HOLD s after which the silent iscsid lets go.
    assert bound <= took < bound + 10, took
    assert not any(secret in repr(ret) for secret in SECRETS)
    # The login was killed, not left waiting for iscsid.
    assert iscsiadm_processes() == []
