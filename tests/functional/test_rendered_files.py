"""
The files the formula writes for the lab, as the minions' highstates render
them, against the proof of concept's (../shared/reference/
nfsv4-keepalived-poc.md; its 192.168.50.0/24 is the lab's 192.168.56.0/24).
Each deliberate difference from the proof of concept is named where the
expected text says it.
"""
import subprocess

import pytest
import yaml

from tests.conftest import ROOT, load_salt_module
from tests.functional.conftest import VIP_INTERFACE, show_highstate
from tests.support.plan import artifacts, flatten

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
  # State changes go to the notify script through a FIFO, in order.
  vrrp_notify_fifo /run/nfsha/vrrp-notify.fifo
  vrrp_notify_fifo_script /usr/local/sbin/nfsha-notify
}}

vrrp_script ping_client {{
  script "/bin/ping -c 1 -W 2 192.168.56.30"
  interval 3
  timeout 10
  fall 2
  rise 1
}}

vrrp_script check_nfs {{
  script "/usr/local/sbin/nfsha-check-nfs"
  # Failed until it first succeeds: a server does not become MASTER before
  # its file systems have been checked.
  init_fail
  interval 3
  timeout 20
  fall 2
  rise 2
}}

# salt-run nfsha.switchover writes a number here: this server's priority
# goes up (or down) by it, so the VIP moves without a configuration change.
vrrp_track_file nfsha_preference {{
  file "/etc/keepalived/nfsha-preference"
  weight 1
  init_file 0
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
  track_script {{
    ping_client
    check_nfs
  }}
  track_file {{
    nfsha_preference
  }}
}}
"""
    # Differences from the proof of concept: both nodes start as BACKUP and
    # the priorities elect the master (MASTER on both would make a restarted
    # node grab the VIP back); the scripts have a timeout and ping the
    # client's address, not a name that needs /etc/hosts, every 3 s (ping
    # gives up a second before keepalived); the NFS check is the formula's
    # script (nfsd runs on the VIP holder only: see check-nfs.sh.jinja),
    # every 3 s instead of 15, failing twice before FAULT; the VIP has its prefix;
    # the notify script has the formula's name and reads the state changes
    # from a FIFO (test_notify_fifo.py); the switchover's preference file.
    for server in ("nfs1", "nfs2"):
        conf = produced(highstates[server], "keepalived.config", "/etc/keepalived/keepalived.conf")
        assert conf.rstrip("\n") == expected.rstrip("\n")


LAB_ADVERT = """\
  advert_int 1
  authentication {
    auth_type PASS
    auth_pass s3cr3t0
  }
"""


@pytest.mark.parametrize(
    ("options", "advert"),
    [
        # VRRPv3 has no authentication; every server sends its adverts from
        # its own address to the other's (keepalived keeps the @<id> lines of
        # its --config-id, inside unicast_peer too).
        (
            {"vrrp_version": 3, "advert_int": 0.5, "auth_type": None, "preempt_delay": 30, "unicast": True},
            "  advert_int 0.5\n"
            "  version 3\n"
            "  preempt_delay 30\n"
            "@nfs1 unicast_src_ip 192.168.56.11\n"
            "@nfs2 unicast_src_ip 192.168.56.12\n"
            "  unicast_peer {\n"
            "@nfs1 192.168.56.12\n"
            "@nfs2 192.168.56.11\n"
            "  }\n",
        ),
        ({"preempt": False}, LAB_ADVERT.replace("  advert_int 1\n", "  advert_int 1\n  nopreempt\n")),
    ],
    ids=["v3-unicast-preempt-delay", "nopreempt"],
)
def test_keepalived_conf_vrrp_options(salt_cli, highstates, tmp_path, options, advert):
    # Only the instance's advert lines change, and keepalived -t finds
    # nothing wrong in the file as each server reads it (--config-id). The
    # track scripts exist on the servers only: here keepalived -t disables
    # them, and says nothing else.
    ret = show_highstate(salt_cli, {"nfsha": {"keepalived": options}})
    assert ret.returncode == 0, ret
    lab = produced(highstates["nfs1"], "keepalived.config", "/etc/keepalived/keepalived.conf")
    assert LAB_ADVERT in lab
    expected = lab.replace(LAB_ADVERT, advert)
    for server in ("nfs1", "nfs2"):
        conf = produced(ret.data[server], "keepalived.config", "/etc/keepalived/keepalived.conf")
        assert conf == expected
        path = tmp_path / "keepalived.conf"
        path.write_text(conf)
        check = salt_cli.run("keepalived.check_config", str(path), f"config_id={server}", minion_tgt=server)
        assert check.returncode == 0, check
        messages = check.data["messages"]
        assert [m for m in messages if not m.startswith("Disabling track script ")] == [], messages


def scripts(highstate):
    """The keepalived notify and NFS check scripts, and the NFS lock's."""
    made = artifacts(highstate, PILLAR)
    return {
        path: made.get(("file.managed", path))
        for path in ("/usr/local/sbin/nfsha-notify", "/usr/local/sbin/nfsha-check-nfs", "/usr/local/sbin/nfsha-nfs-lock")
    }


def shell_syntax_ok(tmp_path, text):
    script = tmp_path / "script"
    script.write_text(text)
    return subprocess.run(["sh", "-n", str(script)], capture_output=True, text=True).returncode == 0


def test_nfsd_on_the_vip_holder_only(highstates, tmp_path):
    # The default, nfsd:serve_on: holder. The proof of concept restarts
    # nfs-server on MASTER and, on FAULT, waits and starts it again (nfsd
    # ran on both servers); here MASTER starts it and every other state
    # stops it, and the check asks for nfs-server on the VIP holder only.
    made = scripts(highstates["nfs1"])
    notify, check, lock = made.values()
    for text in made.values():
        assert shell_syntax_ok(tmp_path, text)
    assert ("MASTER)\n                read -r up _ </proc/uptime\n"
            "                echo \"$STATE ${up%.*}\" >/run/nfsha/vrrp-state\n"
            "                systemctl start --no-block nfs-server.service") in notify
    assert ("BACKUP|FAULT|STOP|DELETED)\n                echo \"$STATE\" >/run/nfsha/vrrp-state\n"
            "                systemctl stop --no-block nfs-server.service") in notify
    assert '[ "$TYPE $NAME" = \'INSTANCE "VI_1"\' ] || continue' in notify
    assert "for wanted in /var/lib/nfs /srv/nfs4/data; do" in check
    assert ('[ -r /run/nfsha/vrrp-state ] && read -r state since </run/nfsha/vrrp-state\n'
            'if [ "$state" != MASTER ]; then') in check
    # Its behaviour: tests/functional/test_nfs_check.py. The lab's figures:
    # 30 s to start, then 60 s of o2cb's dead time + 20 s for the lock.
    assert '[ "$waited" -lt 30 ] && exit 0' in check
    assert '[ "$waited" -lt 80 ] && exit 0' in check
    assert "flock -n /var/lib/nfs/.nfsha-nfs.lock true || exit 1" in check
    assert check.count("systemctl") == 1
    # nfsd starts only once every server o2cb declared dead is fenced.
    assert ("exec 9>>/var/lib/nfs/.nfsha-nfs.lock\nflock 9\n/usr/local/sbin/nfsha-scsi-fence fence-dead\n"
            "sleep infinity &") in lock
    units = artifacts(highstates["nfs1"])
    dropin = units[("file.managed", "/etc/systemd/system/nfs-server.service.d/nfsha.conf")]["contents"]
    # Bound to the lock: nfsd stops whenever the lock's holder dies.
    assert "BindsTo=nfsha-nfs-lock.service\nAfter=nfsha-nfs-lock.service" in dropin
    assert "Requires=nfsha-nfs-lock" not in dropin
    nfsdcld = units[("file.managed", "/etc/systemd/system/nfsdcld.service.d/nfsha.conf")]["contents"]
    assert "PartOf=nfs-server.service" in nfsdcld
    keepalived = units[("file.managed", "/etc/systemd/system/keepalived.service.d/nfsha.conf")]["contents"]
    assert "RuntimeDirectory=nfsha\nExecStopPost=-/bin/systemctl stop --no-block nfs-server.service" in keepalived
    assert "Wants=nfs-server" not in keepalived
    # Ordered after the shared mounts but not bound to them: without them
    # its NFS check keeps it in FAULT, a dependency would leave it dead.
    assert "[Unit]\nAfter=remote-fs.target\n" in keepalived
    assert "Requires" not in keepalived
    assert ("nfsha.service_on_master", "nfs-server") in units


def test_nfsd_on_every_server_as_in_the_proof_of_concept(salt_cli, tmp_path):
    ret = show_highstate(salt_cli, {"nfsha": {"nfsd": {"serve_on": "all", "bench_allow_serve_on_all": True}}})
    assert ret.returncode == 0, ret
    made = scripts(ret.data["nfs1"])
    notify, check, lock = made.values()
    assert lock is None
    for text in (notify, check):
        assert shell_syntax_ok(tmp_path, text)
    assert "MASTER)\n        # Serve from the shared state this node now owns.\n        systemctl restart nfs-server.service" in notify
    assert "sleep 10\n        systemctl is-active --quiet nfs-server.service || systemctl start nfs-server.service" in notify
    assert "vrrp-state" not in check and "vrrp-state" not in notify
    # One notify process per change, as in the proof of concept.
    conf = produced(ret.data["nfs1"], "keepalived.config", "/etc/keepalived/keepalived.conf")
    assert "  notify /usr/local/sbin/nfsha-notify\n" in conf
    assert "fifo" not in conf
    units = artifacts(ret.data["nfs1"])
    dropin = units[("file.managed", "/etc/systemd/system/nfs-server.service.d/nfsha.conf")]["contents"]
    assert "nfsha-nfs-lock" not in dropin
    keepalived = units[("file.managed", "/etc/systemd/system/keepalived.service.d/nfsha.conf")]["contents"]
    assert "Wants=nfs-server.service\nAfter=nfs-server.service" in keepalived
    assert units[("service.running", "nfs-server")]["enable"] is True


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


def test_ocfs2_mounts_wait_for_o2cb_and_the_fence_key_at_boot(highstates):
    # Found in the lab: a mount before o2cb has registered the cluster fails
    # ("Cluster name is invalid while trying to join the group"). A server
    # registers its SCSI reservation key before it mounts: after a fence,
    # that is what lets it write again.
    for server in ("nfs1", "nfs2"):
        for point in ("/var/lib/nfs", "/srv/nfs4/data"):
            args = produced(highstates[server], "mount.mounted", point)
            assert args["opts"] == ["_netdev", "noatime", "x-systemd.requires=o2cb.service",
                                    "x-systemd.requires=nfsha-scsi-register.service"]
            assert args["extra_mount_invisible_keys"] == ["x-systemd.requires"]


def test_the_scsi_fence(highstates):
    # Each server's own key and the other's, by o2cb node number; the
    # daemon runs everywhere, the register unit before the mounts.
    for server, mine, peer in (("nfs1", 1, 2), ("nfs2", 2, 1)):
        made = artifacts(highstates[server])
        script = made[("file.managed", "/usr/local/sbin/nfsha-scsi-fence")]
        check = subprocess.run(["bash", "-n"], input=script, capture_output=True, text=True)
        assert check.returncode == 0, check.stderr
        device = "/dev/disk/by-path/ip-192.168.56.20:3260-iscsi-iqn.2018-08.es.raulpedroche:lun1-lun-1"
        assert f"device={device}\nmy_key=0x6e6673680000000{mine}\n" in script
        assert f"declare -A peer_keys=([{peer}]=0x6e6673680000000{peer} )" in script
        assert "timeout 10 sg_persist --no-inquiry --readonly" in script
        register = made[("file.managed", "/etc/systemd/system/nfsha-scsi-register.service")]["contents"]
        # Run again by every mount's start: not RemainAfterExit.
        assert "Type=oneshot\nExecStart=/usr/local/sbin/nfsha-scsi-fence register\n" in register
        assert "RemainAfterExit=" not in register
        # A state run registers before it mounts, not on a mounted server.
        registered = made[("ocfs2.fence_registered", "/usr/local/sbin/nfsha-scsi-fence")]
        assert registered["mount_points"] == ["/var/lib/nfs", "/srv/nfs4/data"]
        # The script's own bounds: 60 s for the LUN, then its sg_persist calls.
        assert registered["call_timeout"] == 160
        daemon = made[("file.managed", "/etc/systemd/system/nfsha-scsi-fenced.service")]["contents"]
        assert "ExecStart=/usr/local/sbin/nfsha-scsi-fence watch\nRestart=always\n" in daemon
        assert made[("service.running", "nfsha-scsi-fenced")]["enable"] is True


def test_no_state_runs_a_check_command(highstates):
    # With unless, onlyif or creates, Salt 3008 loads every state module to
    # look for the state's own mod_run_check (salt/state.py): measured 30 s
    # of a lab VM's CPU, in every run. A state of ours decides instead.
    for minion, highstate in highstates.items():
        checked = [key for key, args in flatten(highstate).items() if args.keys() & {"unless", "onlyif", "creates"}]
        assert checked == [], minion


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


def test_the_iscsi_watchdog(highstates, salt_cli, tmp_path):
    # Each server watches its sessions and iscsid's messages (the script's
    # own test: test_iscsi_watchdog.py); with iscsi:watchdog:enabled false
    # it is gone.
    for server in ("nfs1", "nfs2"):
        made = artifacts(highstates[server])
        script = made[("file.managed", "/usr/local/sbin/nfsha-iscsi-watchdog")]
        check = subprocess.run(["bash", "-n"], input=script, capture_output=True, text=True)
        assert check.returncode == 0, check.stderr
        assert "sessions=/sys/class/iscsi_session\nwait=5\n" in script
        assert 'journalctl --unit=iscsid --since="@$since" --output=cat' in script
        assert "systemctl restart iscsid\n" in script
        unit = made[("file.managed", "/etc/systemd/system/nfsha-iscsi-watchdog.service")]["contents"]
        assert "ExecStart=/usr/local/sbin/nfsha-iscsi-watchdog\nRestart=always\n" in unit
        assert made[("service.running", "nfsha-iscsi-watchdog")]["enable"] is True
    ret = show_highstate(salt_cli, {"nfsha": {"iscsi": {"watchdog": {"enabled": False}}}})
    assert ret.returncode == 0, ret
    made = artifacts(ret.data["nfs1"])
    assert made[("service.dead", "nfsha-iscsi-watchdog")]["enable"] is False
    assert ("file.absent", "nfsha-iscsi-watchdog-absent") in made
    assert not any(name == "/usr/local/sbin/nfsha-iscsi-watchdog" for function, name in made if function == "file.managed")
