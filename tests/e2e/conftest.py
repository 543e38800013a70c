"""
The Vagrant lab for the e2e tier: brought up fresh (lab/down, then
lab/up --vms-only) for the session and removed after it, also when a test
fails. A lab that was running before is replaced: there is only one.
"""
import json
import os
import pathlib
import subprocess
import time

import pytest
import vagrant
import yaml

from tests.conftest import ROOT

LAB = ROOT / "lab"
# lab/master's pillar layer over pillar/nfsha.sls.
EDITS = pathlib.Path(
    os.environ.get("NFSHA_LAB_STATE")
    or pathlib.Path(os.environ.get("XDG_CACHE_HOME") or pathlib.Path.home() / ".cache") / "nfsha/lab"
) / "pillar/lab_edits.sls"


class Lab:
    """The running lab: vagrant (python-vagrant) and the lab's master."""

    def __init__(self):
        # The lab fixture puts lab/bin (vagrant inside the lab's namespaces)
        # first in PATH, where python-vagrant looks for vagrant.
        self.vagrant = vagrant.Vagrant(root=str(ROOT), quiet_stdout=True)
        # The lab's pillar layer, as edit_pillar last wrote it.
        self.edits = {}

    def master(self, tool, *args, check=True):
        """``tool`` (salt, salt-run) on the lab's master, its JSON output parsed."""
        options = ["--out=json"] + (["--static"] if tool == "salt" else [])
        ret = subprocess.run(
            [LAB / "master", tool, *options, *args],
            capture_output=True, text=True, check=False,
        )
        if check:
            assert ret.returncode == 0, ret.stdout[-4000:] + ret.stderr[-4000:]
        return json.loads(ret.stdout) if ret.stdout.strip() else None

    def salt(self, target, *args):
        """One minion's answer to a salt command (waiting up to 5 minutes:
        NFS calls may wait out a grace period)."""
        return self.master("salt", "-t", "300", target, *args)[target]

    def edit_pillar(self, edits):
        """Make ``edits`` the lab's pillar layer over pillar/nfsha.sls."""
        self.edits = edits or {}
        EDITS.write_text(yaml.safe_dump(self.edits))
        self.master("salt", "*", "saltutil.refresh_pillar")

    def sh(self, target, command, user="root"):
        """A shell command on a node as ``user``, through Salt; its stdout."""
        ret = self.salt(target, "cmd.run_all", command, "python_shell=True", f"runas={user}")
        assert ret["retcode"] == 0, ret
        return ret["stdout"]

    def orchestrate(self, *args):
        """salt-run state.orchestrate nfsha: (its steps, seconds it took)."""
        started = time.monotonic()
        ret = self.master("salt-run", "state.orchestrate", "nfsha", *args, check=False)
        took = time.monotonic() - started
        (steps,) = ret["data"].values()
        return steps, took


def leftovers():
    """What of the lab still exists on the host."""
    found = []
    if "nfsha-lab" in subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout:
        found.append("network namespace nfsha-lab")
    if pathlib.Path("/run/nfsha-lab").exists():
        found.append("/run/nfsha-lab")
    for program in ("libvirtd", "virtlogd", "qemu-system-x86_64", "salt-master"):
        if subprocess.run(["pgrep", "-f", program], capture_output=True).returncode == 0:
            found.append(f"a {program} process")
    return found


@pytest.fixture(scope="session")
def lab():
    subprocess.run([LAB / "down"], check=True)
    try:
        subprocess.run([LAB / "up", "--vms-only"], check=True)
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("PATH", f"{LAB / 'bin'}:{os.environ['PATH']}")
            yield Lab()
    finally:
        subprocess.run([LAB / "down"], check=False)
    # make lab-down leaves nothing of the lab behind.
    assert leftovers() == []


@pytest.fixture(scope="session")
def first_run(lab):
    """The orchestration's first run on the fresh VMs."""
    return lab.orchestrate()
