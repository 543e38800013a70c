"""
Failover scenarios on the converged lab, with the formula's defaults: the
client writes numbered, fsync'ed records through the VIP while a server
loses its power, its nfs-server, its cable, its keepalived or the process
that holds the NFS service lock, while the iSCSI target restarts, while
VRRP is cut between the servers, and while an operator switches the
service over, and while the holder is frozen past o2cb's dead time (the
SCSI fence keeps it from writing once it wakes up);
and iscsid's reopen loop after a target restart (open-iscsi #387) ends
before OCFS2 fences the server.
Each time the VIP ends where the preemption setting says, no acknowledged
record is lost and no two servers serve NFS at once. The figures go to
failover-e2e.json in the lab's state directory (docs/failover.md).
"""
import dataclasses
import json
import time

import pytest

from tests.support import failover
from tests.support.lab import PILLAR, STATE

# Three adverts: the old master hears the new one's first, under software
# emulation too.
VRRP_HANDOVER_S = 3 * failover.ADVERT_INT
_NFS_CHECK = failover.CONFIG["keepalived"]["nfs_check"]
VIP_OVERLAP_S = {
    "vrrp-partition": _NFS_CHECK["lock_wait"] + (_NFS_CHECK["fall"] + 1) * _NFS_CHECK["interval"] + VRRP_HANDOVER_S,
}
# A frozen holder that wakes up still answers on the NFS port (and as
# MASTER, for the VIP) until its fence daemon's next look at the
# reservation reboots it: its writes fail at the target meanwhile.
FENCED_REBOOT_S = 10
NFSD_OVERLAP_S = {"frozen-holder": FENCED_REBOOT_S}
VIP_OVERLAP_S["frozen-holder"] = FENCED_REBOOT_S
# Target restarts until one leaves a session in iscsid's reopen loop: a
# quarter to a half of the sessions were, per restart (docs/failover.md).
LOOP_ATTEMPTS = 8


@pytest.fixture(scope="module")
def figures():
    outcomes = []
    yield outcomes
    (STATE / "failover-e2e.json").write_text(json.dumps(outcomes, indent=1))


# nfs-stopped runs in make bench only: lock-lost goes the same way (nfsd
# gone on the holder, its NFS check fails, the VIP moves, then comes back),
# and the tier's time has to stay within CI's budget (docs/testing.md).
# vrrp-partition is where a second nfsd waits for the lock while the
# holder serves. make test (CI) leaves out, for time, what another scenario
# of its covers: power-off and link-cut (the holder declared dead, fenced
# and rebooted, as frozen-holder's) and keepalived-stopped (a planned move,
# as switchover); and lock-lost and vrrp-partition (4 to 5 min each, the
# NFS service lock's dirty faults). make test-e2e runs them all.
EXTENDED = {"power-off", "link-cut", "keepalived-stopped", "lock-lost", "vrrp-partition"}
E2E_SCENARIOS = [
    pytest.param(s, marks=[pytest.mark.e2e_extended] if s in EXTENDED else [])
    for s in failover.SCENARIOS if s != "nfs-stopped"
]


@pytest.fixture(scope="module")
def unfinished():
    """The scenarios that did not end (run() raised): each leaves the
    cluster in a state the next scenario cannot start from, and would only
    wait out its timeouts (minutes each) to fail too."""
    return []


def skip_after_unfinished(unfinished):
    if unfinished:
        pytest.skip(f"not run: the {unfinished[0]} scenario did not end, the cluster is as it left it")


@pytest.mark.parametrize("scenario", E2E_SCENARIOS)
def test_a_failover_keeps_the_clients_data(lab, first_run, figures, unfinished, scenario):
    skip_after_unfinished(unfinished)
    try:
        # run() fails unless the VIP ends on the server the scenario expects.
        outcomes = failover.run(lab, scenario)
    except Exception:
        unfinished.append(scenario)
        raise
    figures.extend(dataclasses.asdict(o) for o in outcomes)
    for outcome in outcomes:
        assert outcome.lost == 0, outcome
        assert outcome.nfsd_overlap_s <= NFSD_OVERLAP_S.get(scenario, 0), outcome
        # Two VIP holders only while VRRP hands over (the old master lets
        # go when it hears the new one's advert), or, with VRRP cut, until
        # the server without the NFS service lock gives up (its NFS check).
        assert outcome.vip_overlap_s <= VIP_OVERLAP_S.get(scenario, VRRP_HANDOVER_S), outcome
        assert outcome.acked > 0, outcome


def journal(lab, node, unit, since):
    return lab.sh(node, f"journalctl -o cat --since @{since:.0f} -u {unit}")


# Up to LOOP_ATTEMPTS target restarts: make test-e2e only (CI's time);
# target-restarted, in make test, restarts the target once.
@pytest.mark.e2e_extended
def test_iscsids_reopen_loop_ends_before_ocfs2_fences_the_server(lab, first_run, unfinished):
    skip_after_unfinished(unfinished)
    boots = {s: failover.boot_id(lab, s) for s in failover.SERVERS}
    for _ in range(LOOP_ATTEMPTS):
        since = time.time()
        lab.sh("iscsi", "systemctl restart tgt")
        # A stuck session never comes back without nfsha-iscsi-watchdog.
        failover.sessions_back(lab)
        stuck = [s for s in failover.SERVERS if "can't bind conn" in journal(lab, s, "iscsid", since)]
        if stuck:
            break
    else:
        pytest.fail(f"no session entered iscsid's reopen loop in {LOOP_ATTEMPTS} target restarts")
    for server in stuck:
        assert "restarting iscsid" in journal(lab, server, "nfsha-iscsi-watchdog", since), server
    assert {s: failover.boot_id(lab, s) for s in failover.SERVERS} == boots
