"""
The formula's notify script as keepalived 2.2.7 runs it: the lab's rendered
global_defs (vrrp_notify_fifo, vrrp_notify_fifo_script) and nfsha-notify,
under a real keepalived in a network namespace and a private mount
namespace, where /run/nfsha and /usr/local/sbin are the test's own. Only
systemctl is a stand-in (no systemd runs here): it answers after 0 to 1 s,
at random, as systemd did under load in the lab, and records its calls.
"""
import contextlib
import os
import pathlib
import re
import shutil
import signal
import subprocess
import time

import pytest

from tests.functional.test_rendered_files import produced, scripts

NS = "nfsha-fifo"
VETH = "nfsha-fifo0"
STATE_FILE = "/run/nfsha/vrrp-state"
# One node on its own: BACKUP, then MASTER 3 adverts (0.3 s) later. A
# non-zero number in the track file puts it in FAULT at once (inotify).
INSTANCE = """\
vrrp_track_file flap {{
  file "{track}"
  weight 0
  init_file 0
}}

vrrp_instance {name} {{
  state BACKUP
  interface {VETH}
  virtual_router_id 71
  priority 100
  version 3
  advert_int 0.1
  virtual_ipaddress {{
    10.252.71.10/24
  }}
  track_file {{
    flap
  }}
}}
"""
SLOW_SYSTEMCTL = """\
#!/bin/sh
sleep "0.$(shuf -i 0-9 -n 1)"
echo "$*" >>{calls}
"""


def _run(*cmd):
    return subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=30)


@pytest.fixture
def namespace():
    if NS in _run("ip", "netns", "list").stdout.split():
        _run("ip", "netns", "delete", NS)  # left over by a killed run
    _run("ip", "netns", "add", NS)
    try:
        _run("ip", "-n", NS, "link", "add", VETH, "type", "veth", "peer", "name", "nfsha-fifo1")
        for link in ("lo", VETH, "nfsha-fifo1"):
            _run("ip", "-n", NS, "link", "set", link, "up")
        _run("ip", "-n", NS, "addr", "add", "10.252.71.1/24", "dev", VETH)
        yield NS
    finally:
        # Whatever keepalived left running there (its notify reader, when
        # it was killed): deleting a namespace does not end its processes.
        for pid in _run("ip", "netns", "pids", NS).stdout.split():
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pid), signal.SIGKILL)
        _run("ip", "netns", "delete", NS)


class Keepalived:
    """keepalived with the lab's notify set-up, in its own namespaces."""

    def __init__(self, highstate, tmp_path):
        conf = produced(highstate, "keepalived.config", "/etc/keepalived/keepalived.conf")
        self.instance = re.search(r"^vrrp_instance (\S+) \{", conf, re.M).group(1)
        global_defs = re.search(r"^global_defs \{\n.*?^\}\n", conf, re.M | re.S).group(0)
        assert "vrrp_notify_fifo_script /usr/local/sbin/nfsha-notify" in global_defs
        self.track = tmp_path / "flap"
        self.conf = tmp_path / "keepalived.conf"
        self.conf.write_text(global_defs + "\n" + INSTANCE.format(track=self.track, name=self.instance, VETH=VETH))
        sbin = tmp_path / "sbin"
        sbin.mkdir()
        (sbin / "nfsha-notify").write_text(scripts(highstate)["/usr/local/sbin/nfsha-notify"])
        (sbin / "nfsha-notify").chmod(0o755)
        self.calls = tmp_path / "systemctl.calls"
        bin_ = tmp_path / "bin"
        bin_.mkdir()
        (bin_ / "systemctl").write_text(SLOW_SYSTEMCTL.format(calls=self.calls))
        (bin_ / "systemctl").chmod(0o755)
        self.log = tmp_path / "keepalived.log"
        setup = (
            f"mount -t tmpfs nfsha-run /run && mkdir /run/nfsha && "
            f"mount --bind {sbin} /usr/local/sbin && exec keepalived -f {self.conf} "
            f"--dont-fork --log-console --no-syslog --vrrp "
            f"-p {tmp_path}/keepalived.pid -r {tmp_path}/vrrp.pid"
        )
        with open(self.log, "w") as log:
            self.proc = subprocess.Popen(
                ["ip", "netns", "exec", NS, "unshare", "--mount", "--propagation", "private", "sh", "-c", setup],
                env={**os.environ, "PATH": f"{bin_}:{os.environ['PATH']}"},
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def states(self):
        """The states keepalived entered, in order, from its log."""
        return re.findall(r"\(\S+\) Entering (\w+) STATE", self.log.read_text())

    def state_file(self):
        """nfsha-notify's state file, as keepalived's mount namespace sees it."""
        try:
            return (pathlib.Path(f"/proc/{self.proc.pid}/root") / STATE_FILE.lstrip("/")).read_text().split()
        except FileNotFoundError:
            return None

    def systemctl_calls(self):
        return self.calls.read_text().splitlines() if self.calls.exists() else []

    def flap(self, value):
        self.track.write_text(f"{value}\n")


def _wait_for(predicate, timeout, failure):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, failure()
        time.sleep(0.05)


def _expected_calls(states):
    service = "nfs-server.service"
    return [f"{'start' if s == 'MASTER' else 'stop'} --no-block {service}" for s in states]


@pytest.fixture
def keepalived(namespace, highstates, tmp_path):
    if not shutil.which("keepalived"):
        pytest.fail("keepalived is missing: apt-get install keepalived")
    started = Keepalived(highstates["nfs1"], tmp_path)
    yield started
    started.stop()


def test_state_changes_reach_the_notify_script_in_order(keepalived):
    ka = keepalived

    def settled():
        # Every change handled, the file saying the last one.
        states = ka.states()
        return (
            bool(states)
            and ka.systemctl_calls() == _expected_calls(states)
            and (ka.state_file() or [None])[0] == states[-1]
        )

    def report():
        return f"states {ka.states()}, systemctl {ka.systemctl_calls()}, file {ka.state_file()}"

    _wait_for(lambda: ka.states()[-1:] == ["MASTER"], 10, report)
    # MASTER and FAULT in turn, faster than systemctl answers: with one
    # notify process per change, their calls and writes overtook each other.
    for _ in range(6):
        ka.flap(1)
        _wait_for(lambda: ka.states()[-1:] == ["FAULT"], 5, report)
        ka.flap(0)
        _wait_for(lambda: ka.states()[-1:] == ["MASTER"], 5, report)
    ka.flap(1)
    _wait_for(lambda: ka.states()[-1:] == ["FAULT"], 5, report)
    assert ka.states().count("MASTER") == 7
    _wait_for(settled, 20, report)
    assert ka.state_file() == ["FAULT"]

    # A reload starts a new reader, which takes the next changes.
    os.kill(ka.proc.pid, signal.SIGHUP)
    _wait_for(lambda: "Reload complete" in ka.log.read_text(), 10, report)
    ka.flap(0)
    _wait_for(lambda: ka.states()[-1:] == ["MASTER"], 5, report)
    _wait_for(settled, 10, report)
    state, since = ka.state_file()
    assert state == "MASTER"
    # With this node's uptime when it became MASTER, for check_nfs.
    uptime = float(pathlib.Path("/proc/uptime").read_text().split()[0])
    assert 0 <= uptime - int(since) < 30
