"""
nfsha.validate: every kind of bad pillar is reported with its key path,
all at once; the lab's pillar is valid.
"""
import re

import pytest
import salt.utils.dictupdate
import yaml

from tests.conftest import ROOT
from tests.support.cluster import DEFAULTS, OSFAMILYMAP, lab_pillar, loaded, problems, settings


def edited(**edits):
    """The lab pillar with ``path=value`` edits (path: keys joined by '__')."""
    pillar = lab_pillar()
    for path, value in edits.items():
        keys = path.split("__")
        node = pillar["nfsha"]
        for key in keys[:-1]:
            node = node.setdefault(key, {})
        if value is DELETE:
            del node[keys[-1]]
        else:
            node[keys[-1]] = value
    return pillar


DELETE = object()


def test_lab_pillar_is_valid():
    assert problems(lab_pillar()) == []


def test_missing_pillar_names_every_required_key():
    found = problems({})
    assert "nfsha:network: is required" in found
    assert "nfsha:nodes: is required" in found
    assert "nfsha:vip:address: is required" in found
    assert "nfsha:iscsi:iqn: is required" in found
    assert "nfsha:iscsi:chap: is required" in found


@pytest.mark.parametrize(
    ("edits", "expected"),
    [
        # types
        ({"nodes__nfs1__priority": "high"}, "nfsha:nodes:nfs1:priority: must be int, not str 'high'"),
        ({"nodes__nfs1__priority": True}, "nfsha:nodes:nfs1:priority: must be int, not bool True"),
        ({"nodes": ["nfs1"]}, "nfsha:nodes: must be dict, not list ['nfs1']"),
        ({"exports": {"path": "/srv"}}, "nfsha:exports: must be list, not dict"),
        # missing keys
        ({"nodes__nfs2__address": DELETE}, "nfsha:nodes:nfs2:address: is required"),
        ({"nodes__nfs2__ocfs2_number": DELETE}, "nfsha:nodes:nfs2:ocfs2_number: is required"),
        ({"iscsi__backing_store": DELETE}, "nfsha:iscsi:backing_store: is required"),
        # addresses
        ({"nodes__client__address": "10.0.0.30"}, "nfsha:nodes:client:address: 10.0.0.30 is not in the cluster network 192.168.56.0/24"),
        ({"nodes__client__address": "192.168.56.300"}, "nfsha:nodes:client:address: '192.168.56.300' is not an IPv4 address"),
        ({"nodes__client__address": "192.168.56.255"}, "nfsha:nodes:client:address: 192.168.56.255 is the network or broadcast address of 192.168.56.0/24"),
        ({"nodes__client__address": "192.168.56.11"}, "nfsha:nodes:client:address: address 192.168.56.11 is already used by nodes:nfs1:address"),
        ({"network": "192.168.56.0/33"}, "nfsha:network: '192.168.56.0/33' is not an IPv4 network in CIDR form"),
        ({"vip__address": "192.168.56.12"}, "nfsha:vip:address: 192.168.56.12 collides with the address of node nfs2"),
        ({"vip__address": "192.168.57.10"}, "nfsha:vip:address: 192.168.57.10 is not in the cluster network 192.168.56.0/24"),
        ({"vip__prefix": 33}, "nfsha:vip:prefix: 33 is out of range 1-32"),
        # duplicates
        ({"nodes__nfs2__priority": 101}, "nfsha:nodes:nfs2:priority: priority 101 is already used by nodes:nfs1:priority"),
        ({"nodes__nfs2__ocfs2_number": 1}, "nfsha:nodes:nfs2:ocfs2_number: ocfs2_number 1 is already used by nodes:nfs1:ocfs2_number"),
        ({"nodes__nfs2__priority": 255}, "nfsha:nodes:nfs2:priority: 255 is out of range 1-254"),
        # roles
        ({"nodes__nfs2__role": "client"}, "nfsha:nodes: needs at least two nodes with role server, not 1"),
        ({"nodes__client__role": "target"}, "nfsha:nodes: needs exactly one node with role target, not 2"),
        ({"nodes__client__role": "nfs"}, "nfsha:nodes:client:role: 'nfs' is not one of target, server, client"),
        ({"ocfs2__format_node": "client"}, "nfsha:ocfs2:format_node: 'client' is not a node with role server"),
        # IQNs
        ({"iscsi__iqn": "iqn.2018-08.es.raulpedroche"}, None),
        ({"iscsi__iqn": "iqn.2018-13.es.raulpedroche:lun1"}, "nfsha:iscsi:iqn: 'iqn.2018-13.es.raulpedroche:lun1' is not a valid IQN"),
        ({"iscsi__iqn": "IQN.2018-08.es.raulpedroche:lun1"}, "nfsha:iscsi:iqn: 'IQN.2018-08.es.raulpedroche:lun1' is not a valid IQN"),
        ({"iscsi__iqn": "iqn.2018-08.es raulpedroche:lun1"}, "nfsha:iscsi:iqn: 'iqn.2018-08.es raulpedroche:lun1' is not a valid IQN"),
        ({"nodes__nfs1__initiator_name": "nfs1"}, "nfsha:nodes:nfs1:initiator_name: 'nfs1' is not an iSCSI name"),
        # secret lengths (the message never shows the secret)
        ({"keepalived__auth_pass": "s3cr3t0-too-long"}, "nfsha:keepalived:auth_pass: must be 1 to 8 bytes long, not 16"),
        ({"iscsi__chap__password": "secret0"}, "nfsha:iscsi:chap:password: must be 12 to 16 bytes long, not 7"),
        ({"iscsi__mutual_chap__password": "x" * 17}, "nfsha:iscsi:mutual_chap:password: must be 12 to 16 bytes long, not 17"),
        ({"iscsi__mutual_chap__password": "lab-chap-secret1"}, "nfsha:iscsi:mutual_chap:password: must differ from iscsi:chap:password (RFC 3720)"),
        ({"iscsi__chap__username": "nfs user"}, "nfsha:iscsi:chap:username: 'nfs user' must be made of letters, digits and ._+=@:/- only"),
        # OCFS2
        ({"ocfs2__cluster_name": "a-cluster-name-too-long"}, "nfsha:ocfs2:cluster_name: 'a-cluster-name-too-long' is not a valid cluster name (o2cb: 1-16 letters or digits"),
        ({"ocfs2__filesystems__state__size": "64 megs"}, "nfsha:ocfs2:filesystems:state:size: '64 megs' is not a size with a unit such as 64M"),
        ({"ocfs2__filesystems__data__label": "nfsstate"}, "nfsha:ocfs2:filesystems:data:label: label nfsstate is already used by ocfs2:filesystems:state:label"),
        ({"ocfs2__filesystems__data__mount_point": "srv/data"}, "nfsha:ocfs2:filesystems:data:mount_point: 'srv/data' is not an absolute path"),
        ({"ocfs2__filesystems__data__mode": "rwx"}, "nfsha:ocfs2:filesystems:data:mode: 'rwx' is not an octal mode"),
        ({"ocfs2__reboot_after_panic": 0}, "nfsha:ocfs2:reboot_after_panic: 0 is out of range 1-3600"),
        ({"ocfs2": {"timeouts": {"heartbeat_threshold": 3}}}, "nfsha:ocfs2:timeouts:heartbeat_threshold: 3 is out of range 7-1000"),
        ({"ocfs2": {"timeouts": {"keepalive_delay_ms": 30000}}},
         "nfsha:ocfs2:timeouts:keepalive_delay_ms: 30000 must be shorter than idle_timeout_ms 30000"),
        # iscsi: the watchdog, which must act before OCFS2 fences the server
        ({"iscsi__watchdog__enabled": "yes"}, "nfsha:iscsi:watchdog:enabled: must be bool, not str 'yes'"),
        ({"iscsi__watchdog__stuck_after": 2}, "nfsha:iscsi:watchdog:stuck_after: 2 is out of range 3-600"),
        ({"iscsi__watchdog__max_wait": 4}, "nfsha:iscsi:watchdog:max_wait: 4 must not be shorter than stuck_after 5"),
        ({"iscsi__watchdog__stuck_after": 51},
         "nfsha:iscsi:watchdog:stuck_after: 51 s leaves less than 10 s before OCFS2 fences the server (60 s, from ocfs2:timeouts:heartbeat_threshold 31)"),
        ({"ocfs2": {"timeouts": {"heartbeat_threshold": 7}}}, "nfsha:iscsi:watchdog:stuck_after: 5 s leaves less than 10 s"),
        ({"ocfs2": {"timeouts": {"heartbeat_threshold": 7}}, "iscsi__watchdog__enabled": False}, None),
        ({"iscsi__watchdog__stuck_after": 50}, None),
        # exports
        ({"exports": []}, "nfsha:exports: needs at least one export"),
        ({"exports": [{"path": "/srv/nfs4", "options": ["rw"], "fsid": 0}, {"path": "/srv/nfs4/data", "options": ["rw"], "fsid": 0}]},
         "nfsha:exports:1:fsid: fsid 0 is already used by exports:0:fsid"),
        ({"exports": [{"path": "/srv/nfs4", "options": ["rw"]}]}, "nfsha:exports:0:fsid: is required"),
        ({"exports": [{"path": "/srv/nfs4", "options": ["rw", "fsid=3"], "fsid": 0}]}, "nfsha:exports:0:options: set the fsid with exports:0:fsid, not 'fsid=3'"),
        ({"exports": [{"path": "/srv/nfs4", "options": ["rw"], "fsid": 0, "clients": ["client (rw)"]}]},
         "nfsha:exports:0:clients:0: 'client (rw)' is not a client spec"),
        # exports open to every host
        ({"exports": [{"path": "/srv/nfs4", "options": ["rw"], "fsid": 0, "clients": []}]},
         "nfsha:exports:0:clients: no client, so every host could mount it: list the clients"),
        ({"nodes__client": DELETE},
         "nfsha:exports:0:clients: no client, so every host could mount it: list the clients (null takes the client nodes' addresses: the pillar has none)"),
        ({"nodes__client": DELETE, "exports": [{"path": "/srv/nfs4", "options": ["rw", "crossmnt"], "fsid": 0, "clients": ["192.168.56.0/24"]}]}, None),
        ({"exports": [{"path": "/srv/nfs4", "options": ["rw"], "fsid": 0, "clients": ["*"]}]},
         "nfsha:exports:0:clients:0: '*' lets every host mount it"),
        ({"exports": [{"path": "/srv/nfs4", "options": ["rw"], "fsid": 0, "clients": ["192.168.56.30", "0.0.0.0/0"]}]},
         "nfsha:exports:0:clients:1: '0.0.0.0/0' lets every host mount it"),
        ({"exports": [{"path": "/srv/nfs4", "options": ["rw"], "fsid": 0, "clients": ["::/0"]}]},
         "nfsha:exports:0:clients:0: '::/0' lets every host mount it"),
        ({"exports": [{"path": "/srv/nfs4", "options": ["rw", "crossmnt"], "fsid": 0, "clients": ["*.lab.example", "client?"]}]}, None),
        ({"exports": [{"path": "/srv/nfs4", "options": ["rw", "crossmnt"], "fsid": 0, "clients": None}]}, None),
        # nfsd
        ({"nfsd": {"lease_time": 5}}, "nfsha:nfsd:lease_time: 5 is out of range 10-3600"),
        ({"nfsd": {"scope": ""}}, "nfsha:nfsd:scope: '' is not a scope without spaces"),
        ({"nfsd": {"serve_on": "both"}}, "nfsha:nfsd:serve_on: 'both' is not holder or all"),
        # what would void the design's guarantees
        ({"nfsd": {"serve_on": "all"}}, "nfsha:nfsd:serve_on: 'all' runs nfsd on every server over the shared /var/lib/nfs"),
        ({"nfsd": {"serve_on": "all", "bench_allow_serve_on_all": True}}, None),
        ({"nfsd": {"bench_allow_serve_on_all": "yes"}}, "nfsha:nfsd:bench_allow_serve_on_all: must be bool, not str 'yes'"),
        ({"ocfs2__filesystems__state__options": ["_netdev", "localflocks"]},
         "nfsha:ocfs2:filesystems:state:options: localflocks makes flock(2) local to each server"),
        ({"ocfs2__filesystems__data__options": ["_netdev", "localflocks"]}, None),
        ({"ocfs2__filesystems__data__options": ["_netdev", "nocluster"]},
         "nfsha:ocfs2:filesystems:data:options: nocluster mounts without the cluster stack"),
        ({"exports": [{"path": "/srv/nfs4", "options": ["rw", "async"], "fsid": 0}]},
         "nfsha:exports:0:options: async lets nfsd acknowledge writes before they reach the shared disk"),
        ({"client": {"mounts": [{"mount_point": "/data", "export": "/data", "options": ["rw", "soft"]}]}},
         "nfsha:client:mounts:0:options: soft gives applications an I/O error"),
        ({"client": {"mounts": [{"mount_point": "/data", "export": "/data", "options": ["rw", "hard", "bg"]}]}},
         "nfsha:client:mounts:0:options: bg leaves mount.nfs trying in the background"),
        # keepalived
        ({"keepalived__virtual_router_id": 256}, "nfsha:keepalived:virtual_router_id: 256 is out of range 1-255"),
        ({"keepalived__ping_targets": ["nfs3"]}, "nfsha:keepalived:ping_targets:0: 'nfs3' is not a node id"),
        # keepalived skips a run while the last one runs: a timeout past the interval is fine.
        ({"keepalived__track_scripts": {"check_disk": {"script": "/bin/true", "interval": 2, "timeout": 20, "fall": 1, "rise": 1}}},
         None),
        ({"keepalived__track_scripts": {"check_disk": {"script": "/bin/true", "interval": 2, "timeout": 0, "fall": 1, "rise": 1}}},
         "nfsha:keepalived:track_scripts:check_disk:timeout: 0 is out of range 1-3600"),
        ({"keepalived__track_scripts": {"check_nfs": {"script": "/bin/true", "interval": 2, "timeout": 1, "fall": 1, "rise": 1}}},
         "nfsha:keepalived:track_scripts:check_nfs: the formula's own track scripts are named check_nfs and ping_<node>"),
        ({"keepalived__nfs_check__timeout": 3601}, "nfsha:keepalived:nfs_check:timeout: 3601 is out of range 1-3600"),
        ({"keepalived__initial_state": "master"}, "nfsha:keepalived:initial_state: 'master' is not MASTER or BACKUP"),
        # the NFS check's wait for the NFS service lock
        ({"keepalived__nfs_check__lock_wait": 61}, None),
        ({"keepalived__nfs_check__lock_wait": 30}, "nfsha:keepalived:nfs_check:lock_wait: 30 is out of range 31-3600"),
        ({"keepalived__nfs_check__lock_wait": 60},
         "nfsha:keepalived:nfs_check:lock_wait: 60 s is not longer than o2cb's dead time (60 s, from ocfs2:timeouts:heartbeat_threshold 31)"),
        ({"keepalived__nfs_check__lock_wait": 40, "ocfs2__timeouts__heartbeat_threshold": 16}, None),
        # keepalived: VRRP version, advertisement interval, preemption, unicast
        ({"keepalived__vrrp_version": 3, "keepalived__advert_int": 0.5, "keepalived__auth_type": None}, None),
        ({"keepalived__vrrp_version": 3, "keepalived__advert_int": 40, "keepalived__auth_type": None}, None),
        ({"keepalived__vrrp_version": 4}, "nfsha:keepalived:vrrp_version: 4 is not 2 or 3"),
        ({"keepalived__vrrp_version": "3"}, "nfsha:keepalived:vrrp_version: must be int, not str '3'"),
        ({"keepalived__vrrp_version": 3}, "nfsha:keepalived:auth_type: 'PASS' conflicts with vrrp_version 3, which has no authentication (RFC 5798)"),
        ({"keepalived__advert_int": 0.5}, "nfsha:keepalived:advert_int: 0.5 needs vrrp_version 3"),
        ({"keepalived__advert_int": 256}, "nfsha:keepalived:advert_int: 256 is out of range 1-255"),
        ({"keepalived__advert_int": True}, "nfsha:keepalived:advert_int: must be int or float, not bool True"),
        ({"keepalived__advert_int": "1s"}, "nfsha:keepalived:advert_int: must be int or float, not str '1s'"),
        ({"keepalived__vrrp_version": 3, "keepalived__advert_int": 41, "keepalived__auth_type": None},
         "nfsha:keepalived:advert_int: 41 is out of range 0.01-40.95 (vrrp_version 3)"),
        ({"keepalived__vrrp_version": 3, "keepalived__advert_int": 0.005, "keepalived__auth_type": None},
         "nfsha:keepalived:advert_int: 0.005 is out of range 0.01-40.95 (vrrp_version 3)"),
        ({"keepalived__preempt": False}, None),
        ({"keepalived__preempt": "no"}, "nfsha:keepalived:preempt: must be bool, not str 'no'"),
        ({"keepalived__preempt": False, "keepalived__initial_state": "MASTER"}, "nfsha:keepalived:preempt: false needs initial_state BACKUP"),
        ({"keepalived__preempt_delay": 30}, None),
        ({"keepalived__preempt_delay": 1001}, "nfsha:keepalived:preempt_delay: 1001 is out of range 0-1000"),
        ({"keepalived__preempt": False, "keepalived__preempt_delay": 5}, "nfsha:keepalived:preempt_delay: 5 means nothing with preempt false"),
        ({"keepalived__unicast": True}, None),
        ({"keepalived__unicast": "yes"}, "nfsha:keepalived:unicast: must be bool, not str 'yes'"),
        # unknown keys, with the nearest known one
        ({"keepalive": {"auth_pass": "s3cr3t0"}}, "nfsha:keepalive: unknown key (did you mean keepalived?)"),
        ({"keepalived__virtual_router_idd": 102}, "nfsha:keepalived:virtual_router_idd: unknown key (did you mean keepalived:virtual_router_id?)"),
        ({"nodes__nfs1__prority": 101}, "nfsha:nodes:nfs1:prority: unknown key (did you mean nodes:nfs1:priority?)"),
        ({"iscsi__chap__user": "nfs-iscsi-user"}, "nfsha:iscsi:chap:user: unknown key (did you mean iscsi:chap:username?)"),
        ({"ocfs2__timeouts__heartbeat_treshold": 31}, "nfsha:ocfs2:timeouts:heartbeat_treshold: unknown key (did you mean ocfs2:timeouts:heartbeat_threshold?)"),
        ({"exports": [{"path": "/srv/nfs4", "option": ["rw"], "fsid": 0}]}, "nfsha:exports:0:option: unknown key (did you mean exports:0:options?)"),
        ({"client": {"mounts": [{"mountpoint": "/data", "export": "/data", "options": []}]}},
         "nfsha:client:mounts:0:mountpoint: unknown key (did you mean client:mounts:0:mount_point?)"),
        ({"keepalived__track_scripts": {"check_disk": {"script": "/bin/true", "intervall": 3, "timeout": 2, "fall": 1, "rise": 1}}},
         "nfsha:keepalived:track_scripts:check_disk:intervall: unknown key (did you mean keepalived:track_scripts:check_disk:interval?)"),
        ({"ocfs2__filesystems__state__mode": "0755"}, "nfsha:ocfs2:filesystems:state:mode: unknown key (known here: label, mount_point, options, size)"),
        ({"roles": {"target": "nfs1"}}, "nfsha:roles: unknown key"),
        ({"paths": {"exports": "/etc/exports.d/nfsha.exports"}}, "nfsha:paths: unknown key"),
        ({"nodes__client__priority": 5}, "nfsha:nodes:client:priority: only a node with role server takes it, not a client"),
        ({"nodes__iscsi__initiator_name": "iqn.2018-08.es.raulpedroche:iscsi"}, "nfsha:nodes:iscsi:initiator_name: only a node with role server takes it, not a target"),
        # what tgt, keepalived, exportfs or a mount would refuse or misread mid-run
        ({"nodes__nfs2__initiator_name": "iqn.2018-08.es.raulpedroche:nfs1"},
         "nfsha:nodes:nfs2:initiator_name: initiator name iqn.2018-08.es.raulpedroche:nfs1 is already used by nodes:nfs1:initiator_name"),
        ({"vip__prefix": 16}, "nfsha:vip:prefix: 16 contradicts the network 192.168.56.0/24"),
        ({"vip__prefix": 32}, None),
        ({"vip__interface": "eth1:0"}, "nfsha:vip:interface: 'eth1:0' is not an interface name"),
        ({"nodes__nfs1__interface": "a-very-long-interface"}, "nfsha:nodes:nfs1:interface: 'a-very-long-interface' is not an interface name"),
        ({"nfsd": {"lease_time": 30, "grace_time": 20}}, "nfsha:nfsd:grace_time: 20 is shorter than lease_time 30"),
        ({"nfsd": {"lease_time": 30, "grace_time": 30}}, None),
        ({"iscsi__backing_store": "/dev/disk/by-id/my disk"}, "nfsha:iscsi:backing_store: '/dev/disk/by-id/my disk' is not an absolute path of letters"),
        ({"ocfs2__filesystems__state__mount_point": "/srv/nfs-state"},
         "nfsha:ocfs2:filesystems:state:mount_point: /srv/nfs-state is not /var/lib/nfs, where nfs-utils keeps nfsd's state"),
        ({"ocfs2__filesystems__data__mount_point": "/var/lib/nfs/data", "exports": [
            {"path": "/var/lib/nfs/data", "options": ["rw"], "fsid": 0}]},
         "nfsha:ocfs2:filesystems:data:mount_point: /var/lib/nfs/data is inside the state file system's mount point /var/lib/nfs"),
        ({"ocfs2__filesystems__data__mode": 493},
         "nfsha:ocfs2:filesystems:data:mode: must be a quoted string such as '0755', not the number 493"),
        ({"exports": [{"path": "/srv/nfs4", "options": ["rw", "crossmnt"], "fsid": 0}, {"path": "/home", "options": ["rw"], "fsid": 1}]},
         "nfsha:exports:1:path: /home is outside the data file system /srv/nfs4/data"),
        ({"exports": [{"path": "/srv", "options": ["rw", "crossmnt"], "fsid": 1}, {"path": "/srv/nfs4/data", "options": ["rw"], "fsid": 0}]},
         "nfsha:exports:0:path: /srv is outside the data file system"),
        ({"exports": [{"path": "/", "options": ["rw", "crossmnt"], "fsid": "root"}, {"path": "/srv/nfs4/data", "options": ["rw"], "fsid": 1}]},
         "nfsha:exports:0:path: / would export the NFS state file system /var/lib/nfs"),
        ({"exports": [{"path": "/srv/nfs4 data", "options": ["rw"], "fsid": 0}]}, "nfsha:exports:0:path: '/srv/nfs4 data' is not an absolute path of letters"),
        ({"exports": [{"path": "/srv/nfs4", "options": ["rw", "crossmnt"], "fsid": "root"}, {"path": "/srv/nfs4/data", "options": ["rw"], "fsid": 0}]},
         "nfsha:exports:1:fsid: fsid 0 is already used by exports:0:fsid"),
        ({"exports": [{"path": "/srv/nfs4/data", "options": ["rw"], "fsid": "data"}]}, "nfsha:exports:0:fsid: 'data' is not an fsid"),
        ({"exports": [{"path": "/srv/nfs4/data", "options": ["rw"], "fsid": -1}]}, "nfsha:exports:0:fsid: -1 is not an fsid"),
        ({"exports": [{"path": "/srv/nfs4", "options": ["rw", "crossmnt"], "fsid": 0},
                      {"path": "/srv/nfs4/data", "options": ["rw"], "fsid": "7fd5c3a0-8a7e-4a06-a3bb-3e5a1e4c7f10"}]}, None),
        ({"client": {"mounts": [{"mount_point": "/data", "export": "/srv/nfs4/data", "options": ["rw", "hard"]}]}},
         "nfsha:client:mounts:0:export: /srv/nfs4/data is /srv/nfs4/srv/nfs4/data on the servers (NFSv4 paths start at the fsid 0 export, /srv/nfs4), and no export serves it"),
        ({"client": {"mounts": [{"mount_point": "/data", "export": "/data/projects", "options": ["rw", "hard"]}]}}, None),
        ({"exports": [{"path": "/srv/nfs4/data", "options": ["rw"], "fsid": 1}],
          "client": {"mounts": [{"mount_point": "/data", "export": "/srv/nfs4/data", "options": ["rw", "hard"]}]}}, None),
        ({"client": {"mounts": [{"mount_point": "/data", "export": "/data", "options": ["rw", "vers=3"]}]}},
         "nfsha:client:mounts:0:options: vers=3 asks for NFSv3, and the servers serve NFSv4 only"),
        ({"keepalived__ping_targets": ["nfs2"]}, "nfsha:keepalived:ping_targets:0: 'nfs2' is an NFS server"),
        ({"keepalived__ping_targets": ["client", "iscsi"]}, None),
        ({"keepalived__instance": "VI 1"}, "nfsha:keepalived:instance: 'VI 1' is not an instance name of letters, digits and _.-"),
        ({"keepalived__instance": "VI'1"}, "nfsha:keepalived:instance: \"VI'1\" is not an instance name"),
        ({"keepalived__track_scripts": {"check disk": {"script": "/bin/true", "interval": 3, "timeout": 2, "fall": 1, "rise": 1}}},
         "nfsha:keepalived:track_scripts:check disk: a track script's name is letters, digits and _.-"),
        ({"keepalived__track_scripts": {"check_disk": {"script": '/bin/test -d "/srv"', "interval": 3, "timeout": 2, "fall": 1, "rise": 1}}},
         "nfsha:keepalived:track_scripts:check_disk:script: '/bin/test -d \"/srv\"' is not a command without '\"'"),
        ({"keepalived__auth_pass": "s3cr#t"}, "nfsha:keepalived:auth_pass: must be made of letters, digits and ._+=@:/- only (keepalived ends it at a blank, '\"', '!' or '#')"),
        ({"keepalived__auth_pass": "pässwd"}, "nfsha:keepalived:auth_pass: must be made of letters"),
        ({"iscsi__chap__password": "lab-chap-secrët"}, "nfsha:iscsi:chap:password: must be made of letters, digits and ._+=@:/- only"),
        ({"iscsi__mutual_chap__username": "nfs-iscsi-user"}, "nfsha:iscsi:mutual_chap:username: 'nfs-iscsi-user' is also an incoming user"),
        # client
        ({"client": {"mounts": [{"mount_point": "/data", "export": "data", "options": []}]}},
         "nfsha:client:mounts:0:export: 'data' is not an absolute path"),
        ({"ntp_servers": ["pool.example", ""]}, "nfsha:ntp_servers:1: must be a non-empty string, not str ''"),
        ({"pkg_refresh": "no"}, "nfsha:pkg_refresh: must be bool, not str 'no'"),
    ],
)
def test_bad_pillar_is_reported_with_its_key(edits, expected):
    found = problems(edited(**edits))
    if expected is None:  # a valid edit (an IQN without the optional suffix, ...)
        assert found == []
    else:
        assert any(p.startswith(expected) for p in found), found


def test_every_problem_is_reported_at_once():
    found = problems(edited(nodes__nfs2__priority=101, vip__address="192.168.56.11", keepalived__auth_pass="123456789"))
    assert len(found) == 3, found


def test_secrets_never_appear_in_messages():
    pillar = edited(iscsi__chap__password="short-secret-that-is-too-long", keepalived__auth_pass="toolongpass")
    text = "\n".join(problems(pillar))
    assert "short-secret-that-is-too-long" not in text
    assert "toolongpass" not in text
    assert "nfsha:iscsi:chap:password" in text


def test_pillar_is_merged_over_defaults():
    config, _ = settings()
    assert config["nfsd"]["lease_time"] == 10  # a default
    assert config["ocfs2"]["filesystems"]["data"]["user"] == "vagrant"  # from pillar
    assert config["ocfs2"]["filesystems"]["data"]["mount_point"] == "/srv/nfs4/data"  # default beside it


def test_roles_and_derived_paths():
    config, _ = settings(minion_id="nfs2")
    assert config["roles"] == {"target": "iscsi", "servers": ["nfs1", "nfs2"], "clients": ["client"]}
    assert config["ocfs2"]["format_node"] == "nfs1"
    assert config["me"]["id"] == "nfs2"
    assert config["iscsi"]["portal"] == "192.168.56.20:3260"
    device = "/dev/disk/by-path/ip-192.168.56.20:3260-iscsi-iqn.2018-08.es.raulpedroche:lun1-lun-1"
    assert config["iscsi"]["device"] == device
    assert [fs["partition"] for fs in config["ocfs2"]["partitions"]] == [device + "-part1", device + "-part2"]
    assert [fs["mount_point"] for fs in config["ocfs2"]["partitions"]] == ["/var/lib/nfs", "/srv/nfs4/data"]
    assert config["nodes"]["nfs2"]["initiator_name"] == "iqn.2018-08.es.raulpedroche:nfs2"
    assert config["ocfs2"]["nodes"] == [
        {"name": "nfs1", "number": 1, "address": "192.168.56.11", "port": 7777},
        {"name": "nfs2", "number": 2, "address": "192.168.56.12", "port": 7777},
    ]
    assert config["nfsd"]["lock_file"] == "/var/lib/nfs/.nfsha-nfs.lock"
    # "nfsh" and the o2cb node number: sg_persist's listing names the server.
    assert config["ocfs2"]["fence_keys"] == {"nfs1": "0x6e66736800000001", "nfs2": "0x6e66736800000002"}


@pytest.mark.parametrize(("threshold", "lock_wait", "expected"), [(31, None, 80), (7, None, 32), (31, 120, 120)])
def test_the_lock_wait_outlasts_o2cbs_dead_time_unless_set(threshold, lock_wait, expected):
    config, _ = settings(edited(ocfs2__timeouts__heartbeat_threshold=threshold, keepalived__nfs_check__lock_wait=lock_wait))
    assert config["keepalived"]["nfs_check"]["lock_wait"] == expected
    assert config["keepalived"]["nfs_check"]["startup_s"] == 30


def test_format_node_follows_ocfs2_numbers_unless_named():
    pillar = lab_pillar()
    pillar["nfsha"]["nodes"]["nfs1"]["ocfs2_number"] = 3
    config, _ = settings(pillar)
    assert config["roles"]["servers"] == ["nfs2", "nfs1"]
    assert config["ocfs2"]["format_node"] == "nfs2"
    pillar["nfsha"]["ocfs2"]["format_node"] = "nfs1"
    config, _ = settings(pillar)
    assert config["ocfs2"]["format_node"] == "nfs1"


def test_a_minion_outside_the_cluster_has_no_node():
    config, _ = settings(minion_id="salt-master")
    assert config["me"] is None


def test_secrets_are_slots_that_read_pillar():
    config, module = settings()
    assert config["iscsi"]["chap"] == {
        "username": "nfs-iscsi-user",
        "password": "__slot__:salt:pillar.get(nfsha:iscsi:chap:password, unmask=True)",
    }
    assert config["iscsi"]["mutual_chap"]["password"] == (
        "__slot__:salt:pillar.get(nfsha:iscsi:mutual_chap:password, unmask=True)"
    )
    assert config["keepalived"]["auth_pass"] == (
        "__slot__:salt:pillar.get(nfsha:keepalived:auth_pass, unmask=True)"
    )
    # Everything else is the pillar over the defaults, derived.
    merged = module._merged(lab_pillar()["nfsha"], DEFAULTS, "nfs1")
    for path in module.SECRETS:
        parent_slotted, parent = config, merged
        for key in path[:-1]:
            parent_slotted, parent = parent_slotted[key], parent[key]
        parent_slotted[path[-1]] = parent[path[-1]]
    assert {k: v for k, v in config.items() if k not in OSFAMILYMAP["Debian"]} == merged
    assert merged["keepalived"]["auth_pass"] == "s3cr3t0"


def test_a_pillar_without_secrets_gets_no_slots():
    pillar = lab_pillar()
    del pillar["nfsha"]["keepalived"]["auth_pass"]
    pillar["nfsha"]["iscsi"] = None
    config, _ = settings(pillar)
    assert "auth_pass" not in config["keepalived"]
    assert config["iscsi"] is None


def documented_keys():
    """The key paths of docs/pillar.md's tables, ``<fs>`` spelt out."""
    text = (ROOT / "docs/pillar.md").read_text()
    keys = set(re.findall(r"^\| `([^`]+)` \|", text, re.MULTILINE))
    return {k.replace("<fs>", fs) for k in keys for fs in ("state", "data")}


def accepted_keys(module, schema, path=()):
    """``(key path, whether it is a value)`` of every key the pillar takes."""
    names = {("nodes",): "<id>", ("keepalived", "track_scripts"): "<name>"}
    if path:
        yield ":".join(path), schema is None
    if isinstance(schema, list):
        yield from accepted_keys(module, schema[0], path + ("<i>",))
    elif isinstance(schema, dict):
        for key, entry in schema.items():
            yield from accepted_keys(module, entry, path + (names[path] if key == module.ANY else key,))


def test_the_docs_list_exactly_the_keys_the_pillar_takes():
    module = loaded()
    accepted = dict(accepted_keys(module, module._schema(DEFAULTS)))
    documented = documented_keys()
    # Every value the pillar takes has its row; every row is a key it takes.
    assert {key for key, is_value in accepted.items() if is_value} - documented == set()
    assert documented - set(accepted) == set()


def test_the_bench_profile_of_the_proof_of_concept_validates():
    # make bench (lab/bench) puts lab/profiles/seed.yaml over the lab's pillar.
    seed = yaml.safe_load((ROOT / "lab/profiles/seed.yaml").read_text())
    pillar = salt.utils.dictupdate.merge(lab_pillar(), seed, strategy="recurse", merge_lists=False)
    assert problems(pillar) == []
    del pillar["nfsha"]["nfsd"]["bench_allow_serve_on_all"]
    assert [p.split(":")[1:3] for p in problems(pillar)] == [["nfsd", "serve_on"]]
