"""
salt-run nfsha.status through the real master and minions. The minions
share this machine, which runs no cluster: every node answers, with its
role, and the servers report what they could not read instead of failing.
"""
import subprocess

from tests.functional.conftest import MINION_IDS


def test_status_asks_every_node_of_the_pillar(salt_run_cli):
    ret = salt_run_cli.run("nfsha.status")
    assert ret.returncode == 0, ret
    report = ret.data
    assert report["vip"] == "192.168.56.10"
    assert report["vip_holders"] == []
    nodes = report["nodes"]
    assert sorted(nodes) == sorted(MINION_IDS)
    assert {i: n["role"] for i, n in nodes.items()} == {
        "iscsi": "target", "nfs1": "server", "nfs2": "server", "client": "client",
    }
    assert all(n["reachable"] for n in nodes.values()), nodes
    for server in ("nfs1", "nfs2"):
        # No keepalived daemon runs here: said, not hidden.
        assert any(e.startswith("keepalived.instances: ") for e in nodes[server]["errors"])
        assert nodes[server]["holds_vip"] is False
        assert nodes[server]["ocfs2_mounts"] == {}
    assert nodes["client"]["nfs_mounts"] == {}


def test_without_out_it_prints_the_table(salt_run_cli):
    # salt-factories asks for --out=json; an operator types no --out.
    cmdline = [a for a in salt_run_cli.cmdline("nfsha.status") if not a.startswith("--out")]
    ret = subprocess.run(cmdline, capture_output=True, text=True, timeout=120, check=False)
    assert ret.returncode == 0, ret.stderr
    lines = ret.stdout.splitlines()
    assert lines[0] == "VIP 192.168.56.10: held by NO node"
    assert lines[2].split()[:4] == ["NODE", "ROLE", "ADDRESS", "UP"]
    assert sorted(line.split()[0] for line in lines[3:7]) == sorted(MINION_IDS)
    assert "Could not read:" in lines
