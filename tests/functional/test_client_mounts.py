"""
The client's mount states through a real ``salt-call --local``, in a
private mount namespace of their own (``unshare --mount``): the host's
mount table is never touched. This kernel has no NFS client, so a tmpfs
mounted with the source ``192.168.56.9:/data`` stands in for the client's
NFS mount (tmpfs takes any source: /proc/self/mounts shows it as an NFS
mount would be). A server that never answers is a stand-in ``umount`` or
``mount`` on PATH that never returns: Salt's ``cmd.run_all`` kills it at
the bound, and the state fails naming it.
"""
import json
import os
import pathlib
import signal
import subprocess
import sys

import pytest

from tests.conftest import ROOT

SALT_CALL = pathlib.Path(sys.executable).with_name("salt-call")
OLD = "192.168.56.9:/data"
VIP = "192.168.56.10:/data"
BOUND = 3

# The client's pair of states (formula/nfsha/client/init.sls): the fstab
# line, then the bounded mount; tmpfs for nfs4, a private fstab.
CLIENT_SLS = """
in-fstab:
  mount.fstab_present:
    - name: {{ pillar.device }}
    - fs_file: {{ pillar.mount_point }}
    - fs_vfstype: tmpfs
    - fs_mntops: [size=1m, _netdev]
    - config: {{ pillar.fstab }}
    - mount: False

mounted:
  nfsha.mounted:
    - name: {{ pillar.mount_point }}
    - device: {{ pillar.device }}
    - fstype: tmpfs
    - opts: [size=1m, _netdev]
    - mkmnt: True
    - call_timeout: {{ pillar.bound }}
    - require:
      - mount: in-fstab
"""

# Stands for a program waiting for a server that never answers. It records
# its pid (to prove the kill reached it) and becomes the sleep itself, so
# that nothing of it outlives the kill; anything else goes to the real one.
STAND_IN = """#!/bin/sh
case "$*" in
  {pattern}) echo $$ > {pidfile}; exec sleep 3600 ;;
esac
exec {real} "$@"
"""


@pytest.fixture
def client(tmp_path):
    """Run shell ``setup``, then ``salt-call --local`` (with ``stand_ins`` on
    PATH), then shell ``after``, all in one private mount namespace; returns
    the state results, what ``after`` printed and how long salt-call took."""
    (tmp_path / "srv").mkdir()
    (tmp_path / "srv" / "client.sls").write_text(CLIENT_SLS)
    (tmp_path / "bin").mkdir()
    (tmp_path / "fstab").write_text("")
    (tmp_path / "minion").write_text(json.dumps({
        "root_dir": str(tmp_path / "root"),
        "file_client": "local",
        "file_roots": {"base": [str(tmp_path / "srv")]},
        # _modules, _states and _utils, as a minion gets them synced.
        "module_dirs": [str(ROOT)],
        "log_file": str(tmp_path / "root" / "minion.log"),
    }))
    pids = []

    def stand_in(program, pattern):
        pidfile = tmp_path / f"{program}.pid"
        script = tmp_path / "bin" / program
        script.write_text(STAND_IN.format(pattern=pattern, pidfile=pidfile, real=f"/usr/bin/{program}"))
        script.chmod(0o755)
        pids.append(pidfile)
        return pidfile

    def run(setup, args, after="", stand_ins=False):
        path = f"{tmp_path / 'bin'}:{os.environ['PATH']}" if stand_ins else os.environ["PATH"]
        call = " ".join(f"'{a}'" for a in [str(SALT_CALL), "--local", "-c", str(tmp_path), "--out=json", *args])
        script = (
            f"set -e; {setup}\n"
            f"start=$(date +%s.%N); PATH='{path}' {call} > {tmp_path}/out.json || true\n"
            f"end=$(date +%s.%N); echo \"took $start $end\"\n{after}"
        )
        proc = subprocess.run(
            ["unshare", "--mount", "--propagation", "private", "sh", "-c", script],
            capture_output=True, text=True, timeout=120,
        )
        assert proc.returncode == 0, proc.stderr
        lines = proc.stdout.splitlines()
        start, end = (float(x) for x in lines[0].split()[1:])
        out = (tmp_path / "out.json").read_text()
        assert out, proc.stderr
        return json.loads(out)["local"], lines[1:], end - start

    run.stand_in = stand_in
    run.tmp = tmp_path
    yield run
    # A stand-in the kill did not reach would sleep on: end it (ours only).
    for pidfile in pids:
        if pidfile.exists():
            try:
                os.kill(int(pidfile.read_text()), signal.SIGKILL)
            except ProcessLookupError:
                pass


def alive(pidfile):
    pid = int(pidfile.read_text())
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie waits for its parent only: the kill reached it.
    return pathlib.Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"


def single(state, **kwargs):
    return ["state.single", state, *(f"{k}={json.dumps(v) if not isinstance(v, str) else v}" for k, v in kwargs.items())]


def test_an_umount_that_never_returns_fails_the_release_within_its_bound(client):
    mount_point = client.tmp / "data"
    pidfile = client.stand_in("umount", '"--internal-only "*')
    ret, after, took = client(
        f"mkdir {mount_point}; mount -t tmpfs -o size=1m {OLD} {mount_point}",
        single("nfsha.mount_released", name=str(mount_point), device=VIP, call_timeout=BOUND),
        after=f"grep -c ' {mount_point} ' /proc/self/mounts || true",
        stand_ins=True,
    )
    (state,) = ret.values()
    assert state["result"] is False
    assert state["comment"] == (
        f"Cannot unmount {mount_point} from {OLD}: umount {mount_point} did not answer within {BOUND} s"
        " (server not answering?)"
    )
    assert state["changes"] == {}
    # salt-call's own start takes a few seconds; an unbounded umount would
    # have waited for the stand-in's hour.
    assert BOUND <= state["duration"] / 1000 < BOUND + 5, state["duration"]
    assert took < BOUND + 60, took
    # Still mounted, and the stand-in that stood for umount is gone.
    assert after == ["1"]
    assert not alive(pidfile)


def test_the_release_unmounts_an_old_address_with_the_real_umount(client):
    mount_point = client.tmp / "data"
    ret, after, _ = client(
        f"mkdir {mount_point}; mount -t tmpfs -o size=1m {OLD} {mount_point}",
        single("nfsha.mount_released", name=str(mount_point), device=VIP, call_timeout=BOUND),
        after=f"grep -c ' {mount_point} ' /proc/self/mounts || true",
    )
    (state,) = ret.values()
    assert (state["result"], state["changes"]) == (True, {"unmounted": {"old": OLD, "new": None}}), state["comment"]
    assert after == ["0"]


def test_the_client_states_write_fstab_then_mount_with_the_real_mount(client):
    mount_point = client.tmp / "mnt" / "data"
    pillar = {"device": VIP, "mount_point": str(mount_point), "fstab": str(client.tmp / "fstab"), "bound": BOUND}
    ret, after, _ = client(
        "true", ["state.sls", "client", f"pillar={json.dumps(pillar)}"],
        after=f"grep ' {mount_point} ' /proc/self/mounts || true",
    )
    by_id = {r["__id__"]: r for r in ret.values()}
    assert by_id["in-fstab"]["result"] is True, by_id["in-fstab"]["comment"]
    assert by_id["mounted"]["result"] is True, by_id["mounted"]["comment"]
    assert by_id["mounted"]["changes"] == {"mounted": {"old": None, "new": VIP}}
    assert (client.tmp / "fstab").read_text().split() == [VIP, str(mount_point), "tmpfs", "size=1m,_netdev", "0", "0"]
    (line,) = after
    assert line.startswith(f"{VIP} {mount_point} tmpfs ")


def test_a_mount_that_never_returns_fails_within_its_bound(client):
    mount_point = client.tmp / "data"
    pidfile = client.stand_in("mount", '"-t tmpfs -o size=1m,_netdev "*')
    pillar = {"device": VIP, "mount_point": str(mount_point), "fstab": str(client.tmp / "fstab"), "bound": BOUND}
    ret, after, _ = client(
        "true", ["state.sls", "client", f"pillar={json.dumps(pillar)}"],
        after=f"grep -c ' {mount_point} ' /proc/self/mounts || true",
        stand_ins=True,
    )
    mounted = next(r for r in ret.values() if r["__id__"] == "mounted")
    assert mounted["result"] is False
    assert mounted["comment"] == (
        f"Cannot mount {VIP} on {mount_point}: mount {mount_point} did not answer within {BOUND} s"
        " (server not answering?)"
    )
    assert BOUND <= mounted["duration"] / 1000 < BOUND + 5, mounted["duration"]
    assert after == ["0"]
    assert not alive(pidfile)
    # With mount answering again, the same states mount.
    pidfile.unlink()
    (client.tmp / "bin" / "mount").unlink()
    ret, after, _ = client(
        "true", ["state.sls", "client", f"pillar={json.dumps(pillar)}"],
        after=f"grep -c ' {mount_point} ' /proc/self/mounts || true",
    )
    assert all(r["result"] is True for r in ret.values()), ret
    assert after == ["1"]
