"""
The running Vagrant lab, as the e2e tests and the failover benchmark drive
it: vagrant (python-vagrant), the lab's master, libvirt's view of the VMs
(power and links), the network monitor and the client's workload.

lab/up must have brought the lab up; lab/bin (vagrant inside the lab's
namespaces) must come first in PATH, where python-vagrant looks for it.
"""
import base64
import contextlib
import json
import os
import pathlib
import shlex
import subprocess
import tempfile
import textwrap
import threading
import time

import vagrant
import yaml

from tests.conftest import ROOT

LAB = ROOT / "lab"
SUPPORT = ROOT / "tests/support"
STATE = pathlib.Path(
    os.environ.get("NFSHA_LAB_STATE")
    or pathlib.Path(os.environ.get("XDG_CACHE_HOME") or pathlib.Path.home() / ".cache") / "nfsha/lab"
)
# lab/master's pillar layer over pillar/nfsha.sls.
EDITS = STATE / "pillar/lab_edits.sls"
PILLAR = yaml.safe_load((ROOT / "pillar/nfsha.sls").read_text())["nfsha"]
# The workload's files on the client: its records go to the NFS mount, its
# log of acknowledged writes stays local.
WORKLOAD = "/usr/local/bin/nfsha-workload"
WORKLOAD_LOG = "/var/tmp/nfsha-workload.log"
WORKLOAD_CONTROL = "/var/tmp/nfsha-workload.phase"
# Everything the lab's salt and salt-run printed for the tests and the
# bench, kept for the secrets check at the end of the e2e tier (with the
# master's state: lab/down removes it).
SALT_OUTPUT = STATE / "master/salt-output.log"


class LabError(RuntimeError):
    """A lab command failed."""


class Lab:
    """The running lab."""

    def __init__(self):
        self.vagrant = vagrant.Vagrant(root=str(ROOT), quiet_stdout=True)
        # The lab's pillar layer, as edit_pillar last wrote it.
        self.edits = {}
        # sh's ssh configuration, made at its first use.
        self._ssh = None

    # --- Salt, through the lab's master ---

    def master(self, tool, *args, check=True):
        """``tool`` (salt, salt-run) on the lab's master, its JSON output parsed."""
        options = ["--out=json"] + (["--static"] if tool == "salt" else [])
        ret = subprocess.run([LAB / "master", tool, *options, *args], capture_output=True, text=True, check=False)
        with SALT_OUTPUT.open("a") as output:
            output.write(ret.stdout + ret.stderr)
        if check and ret.returncode:
            raise LabError(f"{tool} {' '.join(args)}: {ret.stdout[-4000:]}{ret.stderr[-4000:]}")
        return json.loads(ret.stdout) if ret.stdout.strip() else None

    def salt(self, target, *args):
        """One minion's answer to a salt command (waiting up to 5 minutes:
        NFS calls may wait out a grace period)."""
        return self.master("salt", "-t", "300", target, *args)[target]

    def sh(self, target, command, user="root"):
        """A shell command on a node as ``user``, over ssh; its stdout
        (trailing white space stripped, as Salt's cmd.run does). Not through
        Salt: a job costs a VM under software emulation seconds of CPU, a
        session on a kept ssh connection a fraction of one, and the
        failover scenarios ask every two seconds."""
        remote = f"sudo -u {user} -H bash -c {shlex.quote(command)}"
        for attempt in (1, 2):
            # stderr to a file: the connection that ssh leaves running in
            # the background may keep a pipe open.
            with tempfile.TemporaryFile(mode="w+") as stderr:
                ret = subprocess.run([LAB / "ns", "exec", "ssh", "-F", self._ssh_config(), target, remote],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=stderr,
                                     text=True, check=False)
                stderr.seek(0)
                errors = stderr.read()
            # 255: ssh's own failure (a kept connection to a VM that has
            # since rebooted): once more, on a new connection.
            if ret.returncode != 255 or attempt == 2:
                break
            time.sleep(1)
        if ret.returncode:
            raise LabError(f"{target}: {command}: exit {ret.returncode}: {ret.stdout[-4000:]}{errors[-4000:]}")
        return ret.stdout.rstrip()

    def _ssh_config(self):
        """vagrant's ssh configuration of the lab's VMs (asked once: vagrant
        takes seconds), with one connection per VM kept open; a connection
        whose VM stops answering closes within ServerAliveInterval *
        ServerAliveCountMax seconds (lab/ns down ends any left)."""
        if self._ssh is None:
            self._ssh = STATE / "ssh_config"
            self._ssh.write_text(self.vagrant.ssh_config() + textwrap.dedent(f"""
                Host *
                  ControlMaster auto
                  ControlPath {STATE}/ssh-%n
                  ControlPersist 600
                  ServerAliveInterval 2
                  ServerAliveCountMax 3
                  ConnectTimeout 10
                """))
        return self._ssh

    def edit_pillar(self, edits):
        """Make ``edits`` the lab's pillar layer over pillar/nfsha.sls."""
        self.edits = edits or {}
        EDITS.write_text(yaml.safe_dump(self.edits))
        self.master("salt", "*", "saltutil.refresh_pillar")

    def orchestrate(self, *args):
        """salt-run state.orchestrate nfsha: (its steps, seconds it took)."""
        started = time.monotonic()
        ret = self.master("salt-run", "state.orchestrate", "nfsha", *args, check=False)
        took = time.monotonic() - started
        (steps,) = ret["data"].values()
        return steps, took

    def status(self):
        return self.master("salt-run", "nfsha.status")

    def holders(self):
        return self.status()["vip_holders"]

    def answers(self, minion):
        """Whether ``minion`` answers Salt (after a reboot, say): a ping
        it has 60 s to answer (a server that has just booted, mounting
        and starting nfsd, took 20 to 80 s), then 10 s to say it is still
        at it. Asked through manage.up, whose gather_job_timeout can be
        short: a salt command to a minion that is down waits out the
        master's (lab/master: 180 s) after its own timeout."""
        up = self.master("salt-run", "manage.up", f"tgt={minion}", "timeout=60", "gather_job_timeout=10",
                         check=False)
        return minion in (up or [])

    # --- the VMs, through libvirt ---

    def virsh(self, *args):
        ret = subprocess.run([LAB / "ns", "exec", "virsh", "-c", "qemu:///system", *args],
                             capture_output=True, text=True, check=False)
        if ret.returncode:
            raise LabError(f"virsh {' '.join(args)}: {ret.stderr.strip()}")
        return ret.stdout

    def domain(self, node):
        """The libvirt domain of a lab node (vagrant-libvirt names it <dir>_<id>)."""
        (name,) = [d for d in self.virsh("list", "--all", "--name").split() if d.endswith(f"_{node}")]
        return name

    def cluster_link(self, node):
        """(tap device, MAC) of ``node``'s link to the cluster network."""
        for line in self.virsh("domiflist", self.domain(node)).splitlines()[2:]:
            fields = line.split()
            if len(fields) == 5 and fields[2] == "nfsha-lab":
                return fields[0], fields[4]
        raise LabError(f"{node} has no link to the nfsha-lab network")

    def power_off(self, node):
        """Pull the plug: the VM stops at once, without a shutdown."""
        self.virsh("destroy", self.domain(node))

    def power_on(self, node):
        self.virsh("start", self.domain(node))

    def freeze(self, node, frozen):
        """Pause (or resume) ``node``'s VM: it stops where it is, its
        clock too, and goes on from there, as after a long stall."""
        self.virsh("suspend" if frozen else "resume", self.domain(node))

    def set_link(self, node, up):
        """Cut (or restore) ``node``'s cable to the cluster network."""
        device, _ = self.cluster_link(node)
        self.virsh("domif-setlink", self.domain(node), device, "up" if up else "down")

    # --- what the network sees, and what the client sees ---

    @contextlib.contextmanager
    def monitor(self):
        """The host-side monitor (tests/support/lab_monitor.py) while the
        block runs; yields a Monitor whose ``samples`` grow as it runs."""
        servers = [PILLAR["nodes"][s]["address"] for s in servers_of(PILLAR)]
        process = subprocess.Popen(
            [LAB / "ns", "exec", ROOT / ".venv/bin/python", SUPPORT / "lab_monitor.py",
             self.vip(), *servers],
            stdout=subprocess.PIPE, text=True,
        )
        monitor = Monitor(process, {self.cluster_link(s)[1]: s for s in servers_of(PILLAR)})
        try:
            yield monitor
        finally:
            process.terminate()
            process.wait(timeout=10)
            monitor.reader.join(timeout=10)

    def vip(self):
        return ((self.edits.get("nfsha") or {}).get("vip") or {}).get("address") or PILLAR["vip"]["address"]

    def start_workload(self, path, user):
        """Start writing records to ``path`` on the client as ``user`` (see
        tests/support/workload.py); the phase is ``start``."""
        # base64: Salt's command line would read the script as YAML.
        script = base64.b64encode((SUPPORT / "workload.py").read_bytes()).decode()
        # The log exists, empty, from now: the workload's first write (and
        # its opening the file) waits while the server is in its grace period.
        self.sh("client", f"echo {script} | base64 -d > {WORKLOAD}; chmod 0755 {WORKLOAD};"
                          f" rm -f {WORKLOAD_LOG} {path}; install -m 0644 -o {user} /dev/null {WORKLOAD_LOG};"
                          f" echo start > {WORKLOAD_CONTROL}; chmod 0666 {WORKLOAD_CONTROL}")
        self.salt("client", "cmd.run_bg", f"{WORKLOAD} {path} {WORKLOAD_LOG} {WORKLOAD_CONTROL}", f"runas={user}")

    def workload_phase(self, phase):
        """From now on the workload tags its writes with ``phase``."""
        self.sh("client", f"echo {phase} > {WORKLOAD_CONTROL}")

    def stop_workload(self, timeout=120):
        """Stop the workload and return its log: ``[(phase, n, start, end)]``,
        one line per acknowledged record (the client's clock)."""
        self.workload_phase("stop")
        deadline = time.monotonic() + timeout
        while "done" not in (log := self._workload_log()).splitlines()[-1:]:
            if time.monotonic() > deadline:
                raise LabError("the workload did not stop")
            time.sleep(2)
        return _records(log)

    def workload_records(self):
        """The workload's log so far, as stop_workload returns it."""
        return _records(self._workload_log())

    def _workload_log(self):
        """The workload's log; LabError when one of its writes failed."""
        log = self.sh("client", f"cat {WORKLOAD_LOG}")
        failed = workload_failure(log)
        if failed:
            raise LabError(failed)
        return log

    def wait_for(self, what, check, timeout, interval=1):
        """Wait until ``check()`` is true; fail with ``what`` after ``timeout`` s."""
        deadline = time.monotonic() + timeout
        while not check():
            if time.monotonic() > deadline:
                raise LabError(f"timed out after {timeout} s waiting for {what}")
            time.sleep(interval)


class Monitor:
    """The monitor's samples, read as it prints them: ``t``, ``vip`` (the
    node ids whose MAC answered ARP for the VIP) and ``nfsd`` (the node ids
    whose NFS port accepted a connection)."""

    def __init__(self, process, nodes_by_mac):
        self.samples = []
        self._by_mac = nodes_by_mac
        self._by_address = {PILLAR["nodes"][n]["address"]: n for n in nodes_by_mac.values()}
        self.reader = threading.Thread(target=self._read, args=(process.stdout,), daemon=True)
        self.reader.start()

    def _read(self, stream):
        for line in stream:
            raw = json.loads(line)
            self.samples.append({
                "t": raw["t"],
                "vip": sorted(self._by_mac.get(mac, mac) for mac in raw["vip"]),
                "nfsd": sorted(self._by_address[a] for a in raw["nfsd"]),
            })

    def since(self, t):
        return [s for s in list(self.samples) if s["t"] >= t]

    def latest(self, since, key):
        """The latest sample's ``key`` (vip or nfsd) since ``since``: node ids."""
        recent = self.since(since)
        return recent[-1][key] if recent else []

    def holds(self, node, since):
        """Whether the latest sample since ``since`` shows ``node`` alone
        holding the VIP, with nfsd serving on it."""
        recent = self.since(since)
        return bool(recent) and recent[-1]["vip"] == [node] and node in recent[-1]["nfsd"]


def workload_failure(log):
    """What the workload's log says of a failed write, or None."""
    last = log.splitlines()[-1:]
    if not last or not last[0].startswith("failed "):
        return None
    _, number, _, _, error = last[0].split()
    return f"the client's write of record {number} failed: {error}"


def _records(log):
    """``[(phase, n, start, end)]`` of the workload's log lines."""
    records = []
    for line in log.splitlines():
        fields = line.split()
        if len(fields) == 4:
            records.append((fields[0], int(fields[1]), float(fields[2]), float(fields[3])))
    return records


def servers_of(pillar):
    return sorted(i for i, n in pillar["nodes"].items() if n["role"] == "server")
