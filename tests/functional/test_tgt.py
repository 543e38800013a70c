"""
The tgt modules against a real tgtd, loaded by Salt's real loader
(salt-factories' ``Loaders`` over a private minion config with
``module_dirs`` at the project root).

tgtd runs in a network namespace with its own control socket
(``TGT_IPC_SOCKET``); a second namespace, joined by a veth pair, plays the
initiator with libiscsi's tools and qemu-io, which log in for real over
iSCSI/TCP in user space (this kernel has no iscsi_tcp). Config files go to a
temporary directory, never /etc/tgt.
"""
import contextlib
import dataclasses
import os
import pathlib
import re
import secrets
import shutil
import signal
import stat
import subprocess
import sys
import threading
import time

import pytest
import salt.config
import yaml
from saltfactories.utils.functional import Loaders

from tests.conftest import ROOT

PROGRAMS = {
    "tgtd": "tgt", "tgtadm": "tgt", "tgt-admin": "tgt", "iscsi-ls": "libiscsi-bin",
    "iscsi-readcapacity16": "libiscsi-bin", "qemu-io": "qemu-utils", "ip": "iproute2",
}
TARGET_IP = "10.252.51.20"
INITIATOR_IP = "10.252.51.11"
OUTSIDER_IP = "10.252.51.99"
DISK_SIZE = 8 * 1024 * 1024
SECRETS = {key: f"{key}-{secrets.token_hex(8)}" for key in ("incoming", "incoming_new", "outgoing")}


@dataclasses.dataclass
class Lab:
    target_ns: str
    initiator_ns: str
    initiator_veth: str
    env: dict
    work: pathlib.Path
    tgtd_pid: int


def run(*argv, env=None, check=True):
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=30, check=check)


def stop_tgtd(proc, env):
    # tgtd ignores SIGTERM while it serves targets: delete them first.
    run("tgt-admin", "--delete", "ALL", "--force", env=env, check=False)
    run("tgtadm", "--lld", "iscsi", "--mode", "system", "--op", "delete", env=env, check=False)
    proc.terminate()
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    if os.geteuid() != 0:
        pytest.skip("needs root: network namespaces and tgtd")
    missing = [f"{prog} (Debian package {pkg})" for prog, pkg in PROGRAMS.items() if not shutil.which(prog)]
    if missing:
        pytest.fail(f"install the programs this test drives: {', '.join(missing)}")
    tag = secrets.token_hex(2)
    work = tmp_path_factory.mktemp("tgt")
    target_ns, initiator_ns = f"nfsha-tgt-{tag}-t", f"nfsha-tgt-{tag}-i"
    target_veth, initiator_veth = f"nfsha-tgt-{tag}t", f"nfsha-tgt-{tag}i"
    env = {**os.environ, "TGT_IPC_SOCKET": str(work / "tgtd.sock")}
    with contextlib.ExitStack() as cleanup:
        for ns in (target_ns, initiator_ns):
            run("ip", "netns", "add", ns)
            cleanup.callback(run, "ip", "netns", "delete", ns, check=False)
        run("ip", "link", "add", target_veth, "type", "veth", "peer", "name", initiator_veth)
        # Gone with the namespaces once moved; this covers a failed move.
        cleanup.callback(run, "ip", "link", "delete", target_veth, check=False)
        for ns, veth, address in ((target_ns, target_veth, TARGET_IP),
                                  (initiator_ns, initiator_veth, INITIATOR_IP)):
            run("ip", "link", "set", veth, "netns", ns)
            run("ip", "-n", ns, "addr", "add", f"{address}/24", "dev", veth)
            run("ip", "-n", ns, "link", "set", veth, "up")
            run("ip", "-n", ns, "link", "set", "lo", "up")
        run("ip", "-n", initiator_ns, "addr", "add", f"{OUTSIDER_IP}/24", "dev", initiator_veth)

        log = cleanup.enter_context(open(work / "tgtd.log", "w"))
        proc = subprocess.Popen(["ip", "netns", "exec", target_ns, "tgtd", "-f", "-C", "0"],
                                env=env, stdout=log, stderr=subprocess.STDOUT)
        cleanup.callback(stop_tgtd, proc, env)
        deadline = time.monotonic() + 10
        while run("tgtadm", "--lld", "iscsi", "--mode", "target", "--op", "show",
                  env=env, check=False).returncode:
            assert proc.poll() is None and time.monotonic() < deadline, (work / "tgtd.log").read_text()
            time.sleep(0.05)
        # ip netns exec runs tgtd in its own process.
        yield Lab(target_ns, initiator_ns, initiator_veth, env, work, proc.pid)


@pytest.fixture(scope="module")
def loaders(lab, tmp_path_factory):
    """Salt's loaders with the project's modules, talking to the lab's tgtd."""
    root = tmp_path_factory.mktemp("salt")
    for folder in ("srv", "pillar"):
        (root / folder).mkdir()
    (root / "pillar" / "top.sls").write_text("base:\n  '*':\n    - secrets\n")
    (root / "pillar" / "secrets.sls").write_text(yaml.safe_dump({"tgt_test": SECRETS}))
    (root / "minion").write_text(yaml.safe_dump({
        "id": "nfsha-tgt-functional",
        "root_dir": str(root),
        "file_client": "local",
        "file_roots": {"base": [str(root / "srv")]},
        "pillar_roots": {"base": [str(root / "pillar")]},
        "module_dirs": [str(ROOT)],
    }))
    # Salt's cmd.run_all hands the process environment to tgtadm.
    saved = os.environ.get("TGT_IPC_SOCKET")
    os.environ["TGT_IPC_SOCKET"] = lab.env["TGT_IPC_SOCKET"]
    try:
        yield Loaders(salt.config.minion_config(str(root / "minion")))
    finally:
        if saved is None:
            del os.environ["TGT_IPC_SOCKET"]
        else:
            os.environ["TGT_IPC_SOCKET"] = saved


@pytest.fixture(autouse=True)
def secrets_stay_out_of_logs(caplog):
    caplog.set_level(1)
    yield
    # salt.template logs every rendered pillar file at debug level: Salt's
    # own pillar handling, whatever modules run. Everything else is checked.
    logged = "\n".join(record.getMessage() for record in caplog.get_records("call")
                       if record.name != "salt.template")
    assert "tgtadm" in logged
    for secret in SECRETS.values():
        assert secret not in logged


def from_pillar(key):
    """
    A secret as a slot read from pillar at run time. Salt's state engine logs
    each item of a list argument at trace level (State.format_slots): a slot
    keeps the secret itself out of that line. Salt 3008 masks pillar.get
    results unless asked not to.
    """
    return f"__slot__:salt:pillar.get(tgt_test:{key}, unmask=True)"


@dataclasses.dataclass
class Target:
    iqn: str
    incoming: str
    outgoing: str
    disks: list
    config: str

    def users(self, incoming="incoming"):
        return {
            "incoming_users": [{"username": self.incoming, "password": from_pillar(incoming)}],
            "outgoing_user": {"username": self.outgoing, "password": from_pillar("outgoing")},
        }

    def url(self, incoming=None, outgoing=None):
        incoming = incoming or SECRETS["incoming"]
        outgoing = outgoing or SECRETS["outgoing"]
        return (f"iscsi://{self.incoming}%{incoming}@{TARGET_IP}/{self.iqn}/1"
                f"?target_user={self.outgoing}&target_password={outgoing}")

    def portal(self):
        return f"iscsi://{self.incoming}%{SECRETS['incoming']}@{TARGET_IP}/"


@pytest.fixture
def target(lab, loaders, request):
    """A fresh target name, accounts, backing files and config path; deleted afterwards."""
    tag = secrets.token_hex(3)
    disks = []
    for index in (1, 2):
        disk = lab.work / f"{tag}-disk{index}.img"
        with open(disk, "wb") as handle:
            handle.truncate(DISK_SIZE // index)
        disks.append(str(disk))
    spec = Target(
        iqn=f"iqn.2024-01.test.nfsha:{request.node.name[5:30].replace('_', '-')}-{tag}",
        incoming=f"in-{tag}",
        outgoing=f"out-{tag}",
        disks=disks,
        config=str(lab.work / f"{tag}.conf"),
    )
    yield spec
    if spec.iqn in loaders.modules.tgt.targets():
        loaders.modules.tgt.delete_target(spec.iqn, force=True)


def present(loaders, target, **overrides):
    args = {
        "name": target.iqn,
        "backing_stores": target.disks[:1],
        "initiator_addresses": [INITIATOR_IP],
        **target.users(),
        "config": target.config,
    }
    return loaders.states.tgt.target_present(**{**args, **overrides})


def initiator(lab, *argv, source=None):
    """Run a libiscsi tool in the initiator namespace, from ``source`` if given."""
    if source:
        run("ip", "-n", lab.initiator_ns, "route", "replace", f"{TARGET_IP}/32",
            "dev", lab.initiator_veth, "src", source)
    try:
        return run("ip", "netns", "exec", lab.initiator_ns, *argv, check=False)
    finally:
        if source:
            run("ip", "-n", lab.initiator_ns, "route", "delete", f"{TARGET_IP}/32")


def assert_logs_in(lab, url):
    result = initiator(lab, "iscsi-readcapacity16", url)
    assert result.returncode == 0, result.stderr
    assert f"Total size:{DISK_SIZE}" in result.stdout


def assert_refused(lab, url, reason, source=None):
    result = initiator(lab, "iscsi-readcapacity16", url, source=source)
    assert result.returncode != 0
    assert reason in result.stdout + result.stderr


def assert_no_secret(ret):
    for secret in SECRETS.values():
        assert secret not in str(ret.raw)


def test_test_mode_changes_nothing(loaders, target):
    ret = present(loaders, target, test=True)
    assert ret.result is None, ret.comment
    assert set(ret.changes) == {"luns", "acls", "incoming_users", "outgoing_user", "config"}
    assert target.iqn not in loaders.modules.tgt.targets()
    assert target.incoming not in loaders.modules.tgt.accounts()
    assert not os.path.exists(target.config)
    assert_no_secret(ret)


def test_target_takes_only_allowed_initiators_with_mutual_chap(lab, loaders, target):
    ret = present(loaders, target)
    assert ret.result is True, ret.comment
    assert ret.changes["luns"] == {"old": {}, "new": {1: target.disks[0]}}
    assert ret.changes["incoming_users"] == {"old": [], "new": [target.incoming]}
    assert set(ret.changes) == {"luns", "acls", "incoming_users", "outgoing_user", "config"}
    assert_no_secret(ret)

    served = loaders.modules.tgt.targets()[target.iqn]
    assert [lun["backing_store_path"] for lun in served["luns"]] == [None, target.disks[0]]
    assert served["acls"] == {"addresses": [INITIATOR_IP], "names": []}
    assert served["accounts"] == {"incoming": [target.incoming], "outgoing": target.outgoing}
    assert stat.S_IMODE(os.stat(target.config).st_mode) == 0o600
    assert os.stat(target.config).st_uid == 0
    assert f"incominguser {target.incoming} {SECRETS['incoming']}" in pathlib.Path(target.config).read_text()

    assert target.iqn in initiator(lab, "iscsi-ls", target.portal()).stdout
    assert_logs_in(lab, target.url())
    assert_refused(lab, target.url(incoming="wrong-secret-000"), "Authentication failure")
    assert_refused(lab, target.url(outgoing="wrong-secret-000"), "Invalid CHAP_R")
    assert_refused(lab, target.url(), "Target not found", source=OUTSIDER_IP)
    assert target.iqn not in initiator(lab, "iscsi-ls", target.portal(), source=OUTSIDER_IP).stdout

    again = present(loaders, target)
    assert (again.result, again.changes) == (True, {}), again.comment


def test_changes_keep_a_logged_in_session(lab, loaders, target):
    assert present(loaders, target).result is True
    session = subprocess.Popen(
        ["ip", "netns", "exec", lab.initiator_ns, "qemu-io", "-f", "raw", target.url()],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        deadline = time.monotonic() + 10
        while not loaders.modules.tgt.sessions(target.iqn):
            assert session.poll() is None and time.monotonic() < deadline, session.stdout.read()
            time.sleep(0.05)
        [before] = loaders.modules.tgt.sessions(target.iqn)
        assert (before["address"], before["initiator"]) == (INITIATOR_IP, "iqn.2008-11.org.linux-kvm")

        allowed = [INITIATOR_IP, "10.252.51.12"]
        ret = present(loaders, target, initiator_addresses=allowed,
                      **target.users(incoming="incoming_new"))
        assert ret.result is True, ret.comment
        assert set(ret.changes) == {"incoming_users", "acls", "config"}
        assert ret.changes["incoming_users"]["secret_changed"] == [target.incoming]
        assert "1 session(s) stayed logged in" in ret.comment
        assert_no_secret(ret)

        swap = present(loaders, target, backing_stores=target.disks[1:], initiator_addresses=allowed,
                       **target.users(incoming="incoming_new"))
        assert swap.result is False
        assert "cannot change LUN 1" in swap.comment and "Nothing changed" in swap.comment
        absent = loaders.states.tgt.target_absent(target.iqn, config=target.config)
        assert absent.result is False and "log them out first" in absent.comment

        assert loaders.modules.tgt.sessions(target.iqn) == [before]
        served = loaders.modules.tgt.targets()[target.iqn]
        assert served["luns"][1]["backing_store_path"] == target.disks[0]
        out, _ = session.communicate("read 0 512\nquit\n", timeout=10)
    finally:
        if session.poll() is None:
            session.kill()
            session.wait()
    assert session.returncode == 0 and "read 512/512 bytes at offset 0" in out, out
    assert_logs_in(lab, target.url(incoming=SECRETS["incoming_new"]))
    assert_refused(lab, target.url(), "Authentication failure")


def test_absent_removes_target_and_config(lab, loaders, target):
    assert present(loaders, target).result is True
    would = loaders.states.tgt.target_absent(target.iqn, config=target.config, test=True)
    assert would.result is None and set(would.changes) == {"target", "config"}
    assert target.iqn in loaders.modules.tgt.targets() and os.path.exists(target.config)

    ret = loaders.states.tgt.target_absent(target.iqn, config=target.config)
    assert ret.result is True, ret.comment
    assert target.iqn not in loaders.modules.tgt.targets()
    assert not os.path.exists(target.config)
    assert target.iqn not in initiator(lab, "iscsi-ls", target.portal()).stdout
    assert_refused(lab, target.url(), "Login Failed")
    again = loaders.states.tgt.target_absent(target.iqn, config=target.config)
    assert (again.result, again.changes) == (True, {})


def test_update_brings_a_target_back_from_its_config(lab, loaders, target):
    assert present(loaders, target).result is True
    loaders.modules.tgt.delete_target(target.iqn)
    report = loaders.modules.tgt.update(target.iqn, config=target.config)
    assert report == {"added": [target.iqn], "removed": [], "changed": {}, "in_use": []}
    assert_logs_in(lab, target.url())
    # Re-created from the same file: nothing differs afterwards.
    report = loaders.modules.tgt.update(target.iqn, config=target.config)
    assert report == {"added": [], "removed": [], "changed": {}, "in_use": []}
    assert present(loaders, target).changes == {}


def test_a_stopped_tgtd_fails_the_state_within_its_call_timeout(lab, loaders, target):
    with open(f"/proc/{lab.tgtd_pid}/comm") as comm:
        assert comm.read().strip() == "tgtd"
    bound = 3
    os.kill(lab.tgtd_pid, signal.SIGSTOP)
    # An unbounded tgtadm would wait for as long as tgtd sleeps: wake it
    # after a while, so that such a run fails here instead of hanging.
    waker = threading.Timer(30, os.kill, (lab.tgtd_pid, signal.SIGCONT))
    waker.start()
    try:
        started = time.monotonic()
        ret = present(loaders, target, call_timeout=bound)
        took = time.monotonic() - started
    finally:
        waker.cancel()
        os.kill(lab.tgtd_pid, signal.SIGCONT)
    assert ret.result is False
    assert ret.comment == (
        f"tgtd cannot be queried (tgtadm --mode target --op show did not answer within {bound} s "
        f"(hung tgtd?)); cannot manage target {target.iqn}"
    )
    # Well short of the 30 s an unbounded call would wait here.
    assert bound <= took < bound + 10, took
    assert ret.changes == {}
    assert_no_secret(ret)
    # The killed tgtadm left nothing behind: tgtd, awake, serves the state.
    again = present(loaders, target)
    assert again.result is True, again.comment


# --- a backing store this node uses is never exported ------------------------


@pytest.fixture
def device(lab):
    """A 32 MiB loop device with partition scanning, over a sparse file; detached afterwards."""
    image = lab.work / f"{secrets.token_hex(3)}-device.img"
    with open(image, "wb") as handle:
        handle.truncate(32 * 1024 * 1024)
    path = run("losetup", "--find", "--show", "--partscan", str(image)).stdout.strip()
    try:
        yield path
    finally:
        run("losetup", "--detach", path)
        image.unlink()


def assert_refused_in_use(loaders, target, backing_store, use):
    for test in (True, False):
        ret = present(loaders, target, backing_stores=[backing_store], test=test)
        assert ret.result is False and ret.changes == {}, ret.comment
        assert ret.comment == f"backing_stores: {backing_store} is in use on this node ({use}); nothing changed"
    assert target.iqn not in loaders.modules.tgt.targets()
    assert not os.path.exists(target.config)


def test_a_mounted_device_or_partition_is_refused(lab, loaders, target, device, tmp_path):
    mount_point = tmp_path / "mnt"
    mount_point.mkdir()
    run("mkfs.ext4", "-q", device)
    run("mount", device, str(mount_point))
    try:
        assert_refused_in_use(loaders, target, device, f"{device} is mounted at {mount_point}")
    finally:
        run("umount", str(mount_point))
    subprocess.run(["sfdisk", "--quiet", "--wipe", "always", device], input="label: gpt\nsize=8MiB\n\n",
                   text=True, capture_output=True, check=True)
    run("partx", "--update", device, check=False)
    run("mkfs.ext4", "-q", f"{device}p1")
    run("mount", f"{device}p1", str(mount_point))
    try:
        assert_refused_in_use(loaders, target, device, f"{device}p1 is mounted at {mount_point}")
    finally:
        run("umount", str(mount_point))
    # Unused again: exported.
    ret = present(loaders, target, backing_stores=[device])
    assert ret.result is True and ret.changes["luns"]["new"] == {1: device}, ret.comment


def test_a_swap_device_is_refused(loaders, target, device):
    run("mkswap", device)
    run("swapon", device)
    try:
        assert_refused_in_use(loaders, target, device, f"{device} is swap")
    finally:
        run("swapoff", device)


def test_a_device_another_program_holds_exclusively_is_refused(loaders, target, device):
    hold = (
        f"import os, sys; os.open({device!r}, os.O_RDONLY | os.O_EXCL);"
        " print('held', flush=True); sys.stdin.read()"
    )
    holder = subprocess.Popen([sys.executable, "-c", hold], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == "held\n"
        comm = pathlib.Path(f"/proc/{holder.pid}/comm").read_text().strip()
        assert_refused_in_use(
            loaders, target, device,
            f"{device} is held open exclusively (processes with it open: {holder.pid} ({comm}))",
        )
    finally:
        holder.communicate("", timeout=10)
    assert present(loaders, target, backing_stores=[device]).result is True


def test_a_file_behind_a_loop_device_is_refused(loaders, target):
    loop = run("losetup", "--find", "--show", target.disks[0]).stdout.strip()
    try:
        assert_refused_in_use(loaders, target, target.disks[0], f"{loop} is a loop device over {target.disks[0]}")
    finally:
        run("losetup", "--detach", loop)


# What the SCSI fence (formula/nfsha/files/scsi-fence.sh.jinja) asks of
# tgt's persistent reservations, by libiscsi's conformance tests against
# the formula's target with two initiator names: keys registered and read
# back, a Write Exclusive - Registrants Only reservation that stops an
# unregistered initiator's writes but not its reads, a PREEMPT that
# removes a registration, a CLEAR that ends it all.
FENCE_PR_TESTS = (
    "ALL.PrinReadKeys.Simple",
    "ALL.ProutRegister.Simple",
    "ALL.ProutReserve.AccessWERO",
    "ALL.ProutPreempt.RemoveRegistration",
    "ALL.ProutClear.Simple",
)


@pytest.mark.parametrize("test", FENCE_PR_TESTS)
def test_persistent_reservations_do_what_the_scsi_fence_needs(lab, loaders, target, test):
    ret = present(loaders, target)
    assert ret["result"], ret["comment"]
    result = initiator(lab, "iscsi-test-cu", "--dataloss", "--fail", "--test", test, target.url())
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    # libiscsi reports a test the target cannot run as passed, [SKIPPED].
    assert "SKIPPED" not in output, output
    assert re.search(r"tests\s+1\s+1\s+1\s+0", output), output
