"""
The Vagrant lab for the e2e tier: brought up fresh (lab/down, then
lab/up --vms-only) for the session and removed after it, also when a test
fails. A lab that was running before is replaced: there is only one.
"""
import json
import os
import subprocess
import time

import pytest
import vagrant

from tests.conftest import ROOT

LAB = ROOT / "lab"


class Lab:
    """The running lab: vagrant (python-vagrant) and the lab's master."""

    def __init__(self):
        env = dict(os.environ, PATH=f"{LAB / 'bin'}:{os.environ['PATH']}")
        self.vagrant = vagrant.Vagrant(root=str(ROOT), env=env, quiet_stdout=True)

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
        """One minion's answer to a salt command."""
        return self.master("salt", target, *args)[target]

    def sh(self, target, command):
        """A shell command on a node, through Salt; its stdout."""
        ret = self.salt(target, "cmd.run_all", command, "python_shell=True")
        assert ret["retcode"] == 0, ret
        return ret["stdout"]

    def orchestrate(self, *args):
        """salt-run state.orchestrate nfsha: (its steps, seconds it took)."""
        started = time.monotonic()
        ret = self.master("salt-run", "state.orchestrate", "nfsha", *args, check=False)
        took = time.monotonic() - started
        (steps,) = ret["data"].values()
        return steps, took


@pytest.fixture(scope="session")
def lab():
    subprocess.run([LAB / "down"], check=True)
    try:
        subprocess.run([LAB / "up", "--vms-only"], check=True)
        yield Lab()
    finally:
        subprocess.run([LAB / "down"], check=False)


@pytest.fixture(scope="session")
def first_run(lab):
    """The orchestration's first run on the fresh VMs."""
    return lab.orchestrate()
