"""
The Vagrant lab for the e2e tier: brought up fresh (lab/down, then
lab/up --vms-only) for the session and removed after it, also when a test
fails. A lab that was running before is replaced: there is only one
(unless NFSHA_LAB_KEEP=1, below).
"""
import os
import pathlib
import subprocess

import pytest

from tests.support.lab import LAB, Lab


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


# NFSHA_LAB_KEEP=1: test the lab that `make lab` left running, and leave it
# running (to work on a test; the fresh-VM tests then see a converged lab).
KEEP = os.environ.get("NFSHA_LAB_KEEP") == "1"


@pytest.fixture(scope="session")
def lab():
    if not KEEP:
        subprocess.run([LAB / "down"], check=True)
    try:
        if not KEEP:
            subprocess.run([LAB / "up", "--vms-only"], check=True)
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("PATH", f"{LAB / 'bin'}:{os.environ['PATH']}")
            yield Lab()
    finally:
        if not KEEP:
            subprocess.run([LAB / "down"], check=False)
    if not KEEP:
        # make lab-down leaves nothing of the lab behind.
        assert leftovers() == []


@pytest.fixture(scope="session")
def first_run(lab):
    """The orchestration's first run on the fresh VMs."""
    return lab.orchestrate()


# The failover scenarios run on the cluster the lab's tests converged and
# left as the pillar says: after them; the file system check and the
# secrets check read what all of them left.
_ORDER = {"test_failover.py": 1, "test_fsck.py": 2, "test_secrets.py": 3}


def pytest_collection_modifyitems(items):
    items.sort(key=lambda item: _ORDER.get(item.fspath.basename, 0))
