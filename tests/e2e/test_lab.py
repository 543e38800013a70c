"""
The lab's four VMs, converged by the orchestration from fresh, checked with
the real kernel: iSCSI logins with CHAP, OCFS2 shared by both servers, one
VIP holder, the client writing through the VIP.
"""
import uuid

import yaml

from tests.conftest import ROOT

PILLAR = yaml.safe_load((ROOT / "pillar/nfsha.sls").read_text())["nfsha"]
# The exports squash root: the client writes as the data directory's owner
# (the same uid on every VM of the box).
WRITER = PILLAR["ocfs2"]["filesystems"]["data"]["user"]
SERVERS = sorted(i for i, n in PILLAR["nodes"].items() if n["role"] == "server")
IQN = PILLAR["iscsi"]["iqn"]
PORTAL = f"{PILLAR['nodes']['iscsi']['address']}:3260"
VIP = PILLAR["vip"]["address"]


def minion_states(steps):
    """(step, minion, state id, state result) of every state the steps ran."""
    for step in steps.values():
        for minion, states in (step.get("changes") or {}).get("ret", {}).items():
            for state_id, result in (states if isinstance(states, dict) else {}).items():
                yield step["__id__"], minion, state_id, result


def failures(steps):
    failed = [s["__id__"] for s in steps.values() if s["result"] is False]
    failed += [f"{m} {i}: {r.get('comment')}" for _, m, i, r in minion_states(steps)
               if isinstance(r, dict) and r.get("result") is False]
    return failed


def changes(steps):
    return [f"{m} {i}" for _, m, i, r in minion_states(steps)
            if isinstance(r, dict) and r.get("changes")]


def test_the_vms_run(lab):
    assert {s.name: s.state for s in lab.vagrant.status()} == {
        node_id: "running" for node_id in PILLAR["nodes"]
    }


def test_the_orchestration_converges_fresh_vms(first_run):
    steps, _ = first_run
    assert failures(steps) == []
    assert changes(steps), "a first run on fresh VMs changes things"


def test_a_second_run_changes_nothing_and_is_faster(lab, first_run):
    steps, took = lab.orchestrate()
    assert failures(steps) == []
    assert changes(steps) == []
    assert took < first_run[1]


def test_both_servers_are_logged_in_with_chap_both_ways(lab, first_run):
    for server in SERVERS:
        sessions = lab.salt(server, "iscsiadm.sessions")
        assert [s["target"] for s in sessions] == [IQN], server
        settings = lab.salt(server, "iscsiadm.node_settings", IQN, PORTAL)
        assert settings["node.session.auth.authmethod"] == "CHAP"
        assert settings["node.session.auth.username"] == PILLAR["iscsi"]["chap"]["username"]
        assert settings["node.session.auth.username_in"] == PILLAR["iscsi"]["mutual_chap"]["username"]
        assert PILLAR["iscsi"]["chap"]["password"] not in str(settings)


def test_the_target_hides_itself_from_the_client(lab, first_run):
    # The client's address is not in the target's ACL: discovery finds nothing.
    ret = lab.salt("client", "cmd.run_all",
                   f"iscsiadm -m discovery -t sendtargets -p {PORTAL} -o nonpersistent")
    assert IQN not in ret["stdout"]


def test_both_servers_share_both_ocfs2_file_systems(lab, first_run):
    for server in SERVERS:
        mounts = lab.salt(server, "mount.active")
        assert mounts["/var/lib/nfs"]["fstype"] == "ocfs2", server
        assert mounts["/srv/nfs4/data"]["fstype"] == "ocfs2", server
    token = uuid.uuid4().hex
    lab.sh(SERVERS[0], f"echo {token} > /srv/nfs4/data/e2e-{token} && sync")
    assert lab.sh(SERVERS[1], f"cat /srv/nfs4/data/e2e-{token}") == token


def test_one_server_holds_the_vip_and_the_client_writes_through_it(lab, first_run):
    status = lab.master("salt-run", "nfsha.status")
    (holder,) = status["vip_holders"]
    assert status["nodes"]["client"]["nfs_mounts"] == {"/data": f"{VIP}:/data"}
    token = uuid.uuid4().hex
    lab.sh("client", f"echo {token} > /data/e2e-{token} && sync", user=WRITER)
    assert lab.sh("client", f"cat /data/e2e-{token}", user=WRITER) == token
    assert lab.sh(holder, f"cat /srv/nfs4/data/e2e-{token}") == token


def test_swapping_the_priorities_moves_the_vip_and_keeps_the_data(lab, first_run):
    (old,) = lab.master("salt-run", "nfsha.status")["vip_holders"]
    (new,) = [s for s in SERVERS if s != old]
    token = uuid.uuid4().hex
    lab.sh("client", f"echo {token} > /data/e2e-{token} && sync", user=WRITER)
    swapped = {
        old: {"priority": PILLAR["nodes"][new]["priority"]},
        new: {"priority": PILLAR["nodes"][old]["priority"]},
    }
    lab.edit_pillar({"nfsha": {"nodes": swapped}})
    try:
        steps, _ = lab.orchestrate()
        assert failures(steps) == []
        # keepalived.conf on both servers, reloaded: nothing else, no format.
        assert sorted(changes(steps)) == sorted(
            f"{s} keepalived_|-nfsha-keepalived-config-managed_|-/etc/keepalived/keepalived.conf_|-config"
            for s in SERVERS
        )
        assert lab.master("salt-run", "nfsha.status")["vip_holders"] == [new]
        assert lab.sh("client", f"cat /data/e2e-{token}", user=WRITER) == token
    finally:
        lab.edit_pillar({})
        steps, _ = lab.orchestrate()
    assert failures(steps) == []
    assert lab.master("salt-run", "nfsha.status")["vip_holders"] == [old]
    assert lab.sh("client", f"cat /data/e2e-{token}", user=WRITER) == token
