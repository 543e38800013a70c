"""
salt-run nfsha.status: what each node is asked, and how its answers are
summed up (the answers have the shapes the modules return).
"""
import pytest

from tests.conftest import RECORDED, load_salt_module

NODES = {
    "iscsi": {"role": "target", "address": "192.168.56.20"},
    "nfs1": {"role": "server", "address": "192.168.56.11"},
    "nfs2": {"role": "server", "address": "192.168.56.12"},
    "client": {"role": "client", "address": "192.168.56.30"},
}
PILLAR = {"nfsha": {"nodes": NODES, "vip": {"address": "192.168.56.10"}}}
LUN = "iqn.2018-08.es.raulpedroche:lun1"


def server(state, priority, holds_vip, nfs_running=True):
    return {
        "keepalived.instances": {
            "VI_1": {"state": state, "priority": priority, "effective_priority": priority,
                     "vrid": 101, "vips": ["192.168.56.10/24"]},
        },
        "keepalived.holds_vip": holds_vip,
        "iscsiadm.sessions": [{"sid": 1, "target": LUN, "portal": "192.168.56.20:3260"}],
        "mount.active": {
            "/": {"device": "/dev/vda", "fstype": "ext4"},
            "/var/lib/nfs": {"device": "/dev/sdb1", "fstype": "ocfs2"},
            "/srv/nfs4/data": {"device": "/dev/sdb2", "fstype": "ocfs2"},
        },
        "service.status": nfs_running,
        "nfs3.list_exports": {"/srv/nfs4": [], "/srv/nfs4/data": []},
    }


ANSWERS = {
    "iscsi": {"tgt.sessions": [{"initiator": "iqn.2018-08.es.raulpedroche:nfs1", "address": "192.168.56.11"}]},
    "nfs1": server("MASTER", 101, True),
    "nfs2": server("BACKUP", 100, False, nfs_running=False),
    "client": {"mount.active": {"/data": {"device": "192.168.56.10:/data", "fstype": "nfs4"}}},
}


class FakeClient:
    def __init__(self, answers):
        self.answers = answers
        self.calls = []

    def __enter__(self):
        return self

    def __exit__(self, *args):
        pass

    def cmd(self, ids, functions, args, tgt_type, timeout):
        self.calls.append((ids, functions, args, tgt_type))
        # As LocalClient.cmd: False for a targeted minion without an answer.
        return {i: self.answers.get(i, False) for i in ids}


@pytest.fixture
def runner(monkeypatch):
    module = load_salt_module("_runners", "nfsha")
    module.__salt__ = {"pillar.show_pillar": lambda: PILLAR}
    # As with `salt-run --out=json`: the plain dictionary.
    module.__opts__ = {"conf_file": "/etc/salt/master", "output": "json"}
    return module


def run(runner, monkeypatch, answers):
    client = FakeClient(answers)
    monkeypatch.setattr(runner.salt.client, "get_local_client", lambda conf_file: client)
    return runner.status(), client


def test_each_role_is_asked_what_it_is_about(runner, monkeypatch):
    _, client = run(runner, monkeypatch, ANSWERS)
    asked = {tuple(ids): (functions, args) for ids, functions, args, _ in client.calls}
    assert asked[("iscsi",)] == (["tgt.sessions"], [[]])
    functions, args = asked[("nfs1", "nfs2")]
    assert functions[:2] == ["keepalived.instances", "keepalived.holds_vip"]
    assert args[1] == ["192.168.56.10"]
    assert asked[("client",)] == (["mount.active"], [[]])
    assert {c[3] for c in client.calls} == {"list"}


def test_a_healthy_cluster(runner, monkeypatch):
    report, _ = run(runner, monkeypatch, ANSWERS)
    assert report["vip"] == "192.168.56.10"
    assert report["vip_holders"] == ["nfs1"]
    nodes = report["nodes"]
    assert nodes["nfs1"] == {
        "role": "server",
        "address": "192.168.56.11",
        "reachable": True,
        "vrrp_state": "MASTER",
        "priority": 101,
        "holds_vip": True,
        "iscsi_sessions": [LUN],
        "ocfs2_mounts": {"/srv/nfs4/data": "/dev/sdb2", "/var/lib/nfs": "/dev/sdb1"},
        "nfs_server": "running",
        "exports": ["/srv/nfs4", "/srv/nfs4/data"],
    }
    assert nodes["nfs2"]["vrrp_state"] == "BACKUP"
    assert nodes["nfs2"]["nfs_server"] == "stopped"
    assert nodes["iscsi"]["iscsi_sessions"] == ANSWERS["iscsi"]["tgt.sessions"]
    assert nodes["client"]["nfs_mounts"] == {"/data": "192.168.56.10:/data"}


def test_a_silent_node_is_unreachable(runner, monkeypatch):
    answers = {k: v for k, v in ANSWERS.items() if k != "nfs2"}
    report, _ = run(runner, monkeypatch, answers)
    assert report["nodes"]["nfs2"] == {"role": "server", "address": "192.168.56.12", "reachable": False}
    assert report["vip_holders"] == ["nfs1"]


def test_a_node_that_did_not_answer_in_time_is_unreachable(runner, monkeypatch):
    # Recorded: the master's answer for a minion that did not return.
    silent = (RECORDED / "salt/not-connected.txt").read_text()
    report, _ = run(runner, monkeypatch, dict(ANSWERS, nfs2=silent))
    assert report["nodes"]["nfs2"] == {
        "role": "server", "address": "192.168.56.12", "reachable": False,
        "errors": ["Minion did not return. [Not connected]"],
    }
    assert report["vip_holders"] == ["nfs1"]


def test_failed_queries_are_listed_not_hidden(runner, monkeypatch):
    broken = server("BACKUP", 100, False)
    broken["keepalived.instances"] = "ERROR: keepalived is not running (no /run/keepalived.pid)"
    broken["nfs3.list_exports"] = "'nfs3.list_exports' is not available."
    report, _ = run(runner, monkeypatch, dict(ANSWERS, nfs2=broken))
    nfs2 = report["nodes"]["nfs2"]
    assert nfs2["vrrp_state"] is None
    assert nfs2["exports"] == []
    assert nfs2["errors"] == [
        "keepalived.instances: ERROR: keepalived is not running (no /run/keepalived.pid)",
        "nfs3.list_exports: 'nfs3.list_exports' is not available.",
    ]


def test_a_query_that_raised_is_listed_by_its_message(runner, monkeypatch):
    broken = server("BACKUP", 100, False)
    # Recorded: a compound call's answer for a function that raised.
    broken["keepalived.instances"] = (RECORDED / "salt/compound-call-exception.txt").read_text()
    report, _ = run(runner, monkeypatch, dict(ANSWERS, nfs2=broken))
    assert report["nodes"]["nfs2"]["errors"] == [
        "keepalived.instances: keepalived is not running (no live pid in /run/keepalived.pid)",
    ]


def test_two_holders_are_both_named(runner, monkeypatch):
    report, _ = run(runner, monkeypatch, dict(ANSWERS, nfs2=server("MASTER", 100, True)))
    assert report["vip_holders"] == ["nfs1", "nfs2"]


def test_without_an_output_asked_for_it_is_a_table(runner, monkeypatch):
    runner.__opts__["output"] = None
    ret, _ = run(runner, monkeypatch, ANSWERS)
    assert ret["outputter"] == "nfsha_status"
    assert ret["data"]["vip_holders"] == ["nfs1"]


# --- switchover: the VIP moved by a preference, the clients' stall measured ---

SETTINGS = {
    "roles": {"target": "iscsi", "servers": ["nfs1", "nfs2"], "clients": ["client"]},
    "nodes": {**NODES, "nfs1": {**NODES["nfs1"], "priority": 101}, "nfs2": {**NODES["nfs2"], "priority": 100}},
    "vip": {"address": "192.168.56.10"},
    "client": {"mounts": [{"mount_point": "/data", "export": "/data"}]},
    "keepalived": {"preempt": True},
    "services": {"nfs_server": "nfs-server"},
}
PROBE = {"calls": 80, "longest_s": 1.25, "at": 1796160000.5, "seconds": 8.1}


class FakeCluster(FakeClient):
    """Two servers whose keepalived elects the highest priority plus
    preference (preemption on), as the real one does."""

    def __init__(self, settings=SETTINGS):
        super().__init__({})
        self.settings = settings
        self.preference = {"nfs1": 0, "nfs2": 0}
        self.holder = "nfs1"
        self.writes = []
        self.restarts = []

    def elect(self):
        nodes = self.settings["nodes"]
        self.holder = max(self.preference, key=lambda s: nodes[s]["priority"] + self.preference[s])

    def answer(self, minion, function, args):
        if function == "nfsha.settings":
            return self.settings
        if function == "keepalived.holds_vip":
            return minion == self.holder
        if function == "keepalived.set_track_file":
            self.writes.append((minion, *args))
            self.preference[minion] = args[1]
            if self.settings["keepalived"]["preempt"]:
                self.elect()
            return {"file": "/etc/keepalived/nfsha-preference", "old": 0, "new": args[1]}
        if function == "service.restart":
            self.restarts.append((minion, *args))
            self.elect()
            return True
        if function == "service.status":
            return minion == self.holder
        raise AssertionError(f"unexpected {function} on {minion}")

    def cmd(self, tgt, function, args, tgt_type="glob", timeout=None, full_return=False):
        minions = tgt if isinstance(tgt, list) else [tgt]
        ret = {m: self.answer(m, function, args) for m in minions}
        return {m: {"ret": r, "retcode": 0} for m, r in ret.items()} if full_return else ret

    def cmd_async(self, tgt, function, args, tgt_type):
        assert (tgt, function, args, tgt_type) == (["client"], "nfsha_probe.stalls", ["/data", 30], "list")
        return "20261201000000000000"

    def get_full_returns(self, jid, minions, timeout):
        return {"client": {"ret": PROBE, "retcode": 0}}


def switch(runner, monkeypatch, cluster, to):
    monkeypatch.setattr(runner.salt.client, "get_local_client", lambda conf_file: cluster)
    monkeypatch.setattr(runner.time, "sleep", lambda seconds: None)
    return runner.switchover(to=to)


def test_switchover_prefers_the_target_and_reports_the_stall(runner, monkeypatch):
    cluster = FakeCluster()
    ret = switch(runner, monkeypatch, cluster, "nfs2")
    # nfs2 gets the top priority (100 + 154); nfs1 none.
    assert sorted(cluster.writes) == [("nfs1", "nfsha_preference", 0), ("nfs2", "nfsha_preference", 154)]
    assert cluster.holder == "nfs2"
    assert cluster.restarts == []
    assert (ret["from"], ret["to"], ret["vip"]) == ("nfs1", "nfs2", "192.168.56.10")
    assert ret["clients"] == {"client": PROBE}
    assert ret["stall_s"] == 1.25
    assert ret["moved_s"] >= 0


def test_switching_back_to_the_primary_clears_every_preference(runner, monkeypatch):
    cluster = FakeCluster()
    cluster.preference["nfs2"] = 154
    cluster.holder = "nfs2"
    ret = switch(runner, monkeypatch, cluster, "nfs1")
    assert sorted(cluster.writes) == [("nfs1", "nfsha_preference", 0), ("nfs2", "nfsha_preference", 0)]
    assert (ret["from"], ret["to"], cluster.holder) == ("nfs2", "nfs1", "nfs1")


def test_without_preemption_the_holder_lets_go(runner, monkeypatch):
    cluster = FakeCluster({**SETTINGS, "keepalived": {"preempt": False}})
    switch(runner, monkeypatch, cluster, "nfs2")
    assert cluster.restarts == [("nfs1", "keepalived")]
    assert cluster.holder == "nfs2"


def test_the_holder_already_holds_it(runner, monkeypatch):
    cluster = FakeCluster()
    ret = switch(runner, monkeypatch, cluster, "nfs1")
    assert ret["comment"] == "nfs1 already holds 192.168.56.10"
    assert cluster.writes == []


def test_only_a_server_can_take_the_service(runner, monkeypatch):
    with pytest.raises(runner.SaltInvocationError, match=r"'client' is not an NFS server of the nfsha pillar \(nfs1, nfs2\)"):
        switch(runner, monkeypatch, FakeCluster(), "client")


def test_a_move_that_does_not_happen_fails(runner, monkeypatch):
    cluster = FakeCluster()
    cluster.elect = lambda: None  # keepalived never moves the VIP
    clock = iter(range(0, 10_000, 10))
    monkeypatch.setattr(runner.time, "monotonic", lambda: next(clock))
    with pytest.raises(runner.CommandExecutionError, match="nfs2 does not serve from 192.168.56.10 after 120 s"):
        switch(runner, monkeypatch, cluster, "nfs2")
