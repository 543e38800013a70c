"""
The nfsha_status outputter: the table salt-run nfsha.status prints, from
reports summed up by the runner out of the recorded answers of its tests.
"""
from tests.conftest import load_salt_module
from tests.unit.test_nfsha_runner import ANSWERS, NODES, server

runner = load_salt_module("_runners", "nfsha")
table = load_salt_module("_output", "nfsha_status")


def status(answers, holders):
    return {
        "vip": "192.168.56.10",
        "vip_holders": holders,
        "nodes": {i: runner.summarize(NODES[i], answers.get(i)) for i in NODES},
    }


def rows(text):
    """{node: {column: cell}} of the table, split at the header's columns."""
    lines = text.splitlines()
    header = next(line for line in lines if line.startswith("NODE"))
    starts = [header.index(c) for c in table.COLUMNS]
    cells = {}
    for line in lines[lines.index(header) + 1:]:
        if not line:
            break
        row = [line[a:b].strip() for a, b in zip(starts, starts[1:] + [None])]
        cells[row[0]] = dict(zip(table.COLUMNS, row))
    return cells


def test_a_healthy_cluster():
    text = table.output(status(ANSWERS, ["nfs1"]))
    assert text.splitlines()[0] == "VIP 192.168.56.10: held by nfs1"
    found = rows(text)
    assert sorted(found) == ["client", "iscsi", "nfs1", "nfs2"]
    assert found["nfs1"] == {
        "NODE": "nfs1", "ROLE": "server", "ADDRESS": "192.168.56.11", "UP": "yes",
        "VRRP": "MASTER", "PRIO": "101", "VIP": "yes", "ISCSI": "logged in",
        "OCFS2 MOUNTS": "/srv/nfs4/data, /var/lib/nfs", "NFS-SERVER": "running",
        "EXPORTS / NFS MOUNTS": "/srv/nfs4, /srv/nfs4/data",
    }
    assert (found["nfs2"]["VRRP"], found["nfs2"]["VIP"], found["nfs2"]["NFS-SERVER"]) == ("BACKUP", "no", "stopped")
    # The target's sessions by initiator node, the client's mounts by source.
    assert found["iscsi"]["ISCSI"] == "nfs1"
    assert found["client"]["EXPORTS / NFS MOUNTS"] == "/data from 192.168.56.10:/data"
    assert "Could not read" not in text


def test_no_holder_and_a_silent_node_are_said():
    answers = {k: v for k, v in ANSWERS.items() if k != "nfs2"}
    text = table.output(status(answers, []))
    assert text.splitlines()[0] == "VIP 192.168.56.10: held by NO node"
    assert rows(text)["nfs2"]["UP"] == "NO ANSWER"


def test_a_split_brain_is_said():
    text = table.output(status(dict(ANSWERS, nfs2=server("MASTER", 100, True)), ["nfs1", "nfs2"]))
    assert text.splitlines()[0] == "VIP 192.168.56.10: held by nfs1, nfs2: SPLIT BRAIN"


def test_what_could_not_be_read_is_listed():
    broken = server("BACKUP", 100, False)
    broken["keepalived.instances"] = "ERROR: keepalived is not running (no /run/keepalived.pid)"
    text = table.output(status(dict(ANSWERS, nfs2=broken), ["nfs1"]))
    assert rows(text)["nfs2"]["VRRP"] == "?"
    assert text.splitlines()[-2:] == [
        "Could not read:",
        "  nfs2: keepalived.instances: ERROR: keepalived is not running (no /run/keepalived.pid)",
    ]
