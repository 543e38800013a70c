"""
The files the formula writes for the lab, as the minions' highstates render
them, against the proof of concept's (../shared/reference/
nfsv4-keepalived-poc.md; its 192.168.50.0/24 is the lab's 192.168.56.0/24).
Each deliberate difference from the proof of concept is named where the
expected text says it.
"""
import yaml

from tests.conftest import ROOT, load_salt_module
from tests.functional.conftest import VIP_INTERFACE
from tests.support.plan import artifacts

PILLAR = yaml.safe_load((ROOT / "pillar/nfsha.sls").read_text())
LAB = PILLAR["nfsha"]


def produced(highstate, function, name):
    """What a state makes, its secrets' slots resolved as on the minion."""
    return artifacts(highstate, PILLAR)[(function, name)]


def test_keepalived_conf(highstates):
    expected = f"""\
# Managed by Salt (nfsha): edit the nfsha pillar instead.
# One file for every server: keepalived runs with --config-id <node id>,
# which selects the @<node id> lines.

global_defs {{
  script_user root
  enable_script_security
}}

vrrp_script ping_client {{
  script "/bin/ping -c 1 -W 1 192.168.56.30"
  interval 2
  timeout 1
  fall 2
  rise 1
}}

vrrp_script check_nfs {{
  script "/bin/systemctl is-active --quiet nfs-server.service"
  interval 15
  timeout 5
  fall 1
  rise 2
}}

vrrp_instance VI_1 {{
  state BACKUP
  interface {VIP_INTERFACE}
@nfs1 priority 101
@nfs2 priority 100
  virtual_router_id 101
  advert_int 1
  authentication {{
    auth_type PASS
    auth_pass s3cr3t0
  }}
  virtual_ipaddress {{
    192.168.56.10/24
  }}
  notify /usr/local/sbin/nfsha-notify
  track_script {{
    ping_client
    check_nfs
  }}
}}
"""
    # Differences from the proof of concept: both nodes start as BACKUP and
    # the priorities elect the master (MASTER on both would make a restarted
    # node grab the VIP back); the scripts have a timeout and ping the
    # client's address, not a name that needs /etc/hosts; `systemctl
    # is-active` instead of `status`; the VIP has its prefix; the notify
    # script has the formula's name.
    for server in ("nfs1", "nfs2"):
        conf = produced(highstates[server], "keepalived.config", "/etc/keepalived/keepalived.conf")
        assert conf.rstrip("\n") == expected.rstrip("\n")


def test_exports(highstates):
    # As in the proof of concept, with the client's address for its name and
    # every export's fsid pinned, the data export's too: a file handle must
    # mean the same file on both servers.
    expected = (
        "# Managed by Salt (nfsha): edit the nfsha pillar instead.\n"
        "/srv/nfs4 192.168.56.30(rw,sync,crossmnt,no_subtree_check,fsid=0)\n"
        "/srv/nfs4/data 192.168.56.30(rw,sync,no_subtree_check,fsid=1)"
    )
    for server in ("nfs1", "nfs2"):
        exports = produced(highstates[server], "file.managed", "/etc/exports")
        assert exports.rstrip("\n") == expected


def test_cluster_conf(highstates):
    ocfs2 = load_salt_module("_modules", "ocfs2")
    # The proof of concept's cluster.conf names the cluster "ocfs" in its
    # cluster stanza but "ocfs2" in its node stanzas: here one name serves
    # both, and the file lists the cluster first.
    expected = (
        "cluster:\n\tname = ocfs\n\theartbeat_mode = local\n\tnode_count = 2\n\n"
        "node:\n\tcluster = ocfs\n\tnumber = 1\n\tip_port = 7777\n"
        "\tip_address = 192.168.56.11\n\tname = nfs1\n\n"
        "node:\n\tcluster = ocfs\n\tnumber = 2\n\tip_port = 7777\n"
        "\tip_address = 192.168.56.12\n\tname = nfs2\n\n"
    )
    for server in ("nfs1", "nfs2"):
        args = produced(highstates[server], "ocfs2.cluster", "ocfs")
        assert ocfs2.render_cluster_conf("ocfs", args["nodes"]) == expected


def test_targets_conf(highstates):
    tgt = load_salt_module("_modules", "tgt")
    args = produced(highstates["iscsi"], "tgt.target_present", LAB["iscsi"]["iqn"])
    text = tgt.render_target(
        LAB["iscsi"]["iqn"],
        args["backing_stores"],
        initiator_addresses=args["initiator_addresses"],
        incoming_users=args["incoming_users"],
        outgoing_user=args["outgoing_user"],
    )
    # The proof of concept's target, with the lab's secrets, its disk by a
    # stable name and its LUN number written out (tgt gives the first
    # backing store LUN 1 either way).
    assert text.split("\n") == [
        "# Managed by Salt: changes made here are overwritten.",
        "<target iqn.2018-08.es.raulpedroche:lun1>",
        "    <backing-store /dev/disk/by-id/virtio-nfsha-shared>",
        "        lun 1",
        "    </backing-store>",
        "    initiator-address 192.168.56.11",
        "    initiator-address 192.168.56.12",
        "    incominguser nfs-iscsi-user lab-chap-secret1",
        "    outgoinguser debian-iscsi-target lab-mutual-secr2",
        "</target>",
        "",
    ]
    assert args["config"] == "/etc/tgt/conf.d/nfsha.conf"
