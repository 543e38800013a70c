"""
One owner per rule: every rule of _utils/nfsha_rules.py judges a value the
same way in the pillar's validation (nfsha.validate) and in the execution
module that hands the value to its tool. Each example goes through both;
the validation may be stricter (a CHAP secret's length is RFC 3720's and
the initiators', not tgt's), never more lenient: a pillar that validates
never fails in a module.
"""
import pytest
from salt.exceptions import SaltInvocationError

from tests.conftest import load_salt_module, recorded
from tests.support.cluster import lab_pillar, loaded, problems

OK, BAD = True, False


def fake_cmd(argv, **kwargs):
    """The probes the modules make before they act: an empty device."""
    if argv[0] == "wipefs":
        return {"retcode": 0, "stdout": recorded("ocfs2/wipefs-empty.json"), "stderr": ""}
    if argv[:2] == ["sfdisk", "--json"]:
        return {"retcode": 1, "stdout": "", "stderr": recorded("ocfs2/sfdisk-json-notable.stderr")}
    raise AssertionError(f"the check let {argv} run")


def module(name):
    loaded_module = load_salt_module("_modules", name)
    loaded_module.__salt__ = {"cmd.run_all": fake_cmd}
    return loaded_module


tgt, iscsiadm, ocfs2 = module("tgt"), module("iscsiadm"), module("ocfs2")
NODE = {"name": "nfs1", "number": 1, "address": "192.168.56.11"}
USER = {"username": "nfs-iscsi-user", "password": "lab-chap-secret1"}


def target(**kwargs):
    arguments = {"name": "iqn.2018-08.es.raulpedroche:lun1", "backing_stores": ["/dev/sdb"],
                 "initiator_addresses": ["192.168.56.11"], **kwargs}
    return tgt.render_target(**arguments)


def at(*path):
    """A function that puts a value at ``path`` in the nfsha pillar."""
    def put(nfsha, value):
        for key in path[:-1]:
            nfsha = nfsha.setdefault(key, {})
        nfsha[path[-1]] = value
    return put


def renamed(nfsha, new):
    """The lab's pillar with server nfs1 called ``new``."""
    nfsha["nodes"][new] = nfsha["nodes"].pop("nfs1")


# rule: [(value, pillar takes it, module takes it)], how the pillar gets it
# (a function of the nfsha pillar and the value) and the key path it is at,
# and the module call that checks it.
RULES = {
    "iSCSI name of the target": (
        at("iscsi", "iqn"), "iscsi:iqn",
        lambda v: (target(name=v), iscsiadm.device(v, "192.168.56.20", 1)),
        [
            ("iqn.2018-08.es.raulpedroche:lun1", OK, OK),
            ("iqn.2018-08.es.raulpedroche", OK, OK),
            ("iqn.2018-08.es.raul-pedroche:disk.1:a-b", OK, OK),
            ("iqn.2018-13.es.raulpedroche:lun1", BAD, BAD),  # no 13th month
            ("IQN.2018-08.es.raulpedroche:lun1", BAD, BAD),
            ("iqn.2018-08.es.raulpedroche:LUN1", BAD, BAD),  # RFC 3722: lower case
            ("iqn.2018-08.es.raulpedroche:lun_1", BAD, BAD),  # RFC 3722 prohibits '_'
            ("iqn.2018-08.es raulpedroche:lun1", BAD, BAD),
            ("iqn.2018-08.-es.raulpedroche", BAD, BAD),
            ("iqn.nope", BAD, BAD),
            ("iqn.2018-08.es.raulpedroche:" + "a" * 196, BAD, BAD),  # 224 bytes
            ("iqn.2018-08.es.raulpedroche:" + "a" * 195, OK, OK),  # 223 bytes
            # The pillar's target name carries the initiators' naming authority.
            ("eui.02004567A425678D", BAD, OK),
            ("naa.52004567BA64678D", BAD, OK),
            (2018, BAD, BAD),
        ],
    ),
    "iSCSI name of an initiator": (
        at("nodes", "nfs1", "initiator_name"), "nodes:nfs1:initiator_name",
        lambda v: target(initiator_names=[v]),
        [
            ("iqn.1993-08.org.debian:01:nfs1", OK, OK),
            ("eui.02004567A425678D", OK, OK),
            ("nfs1", BAD, BAD),
            ("iqn.1993-08.org.debian:01:NFS1", BAD, BAD),
        ],
    ),
    "o2cb cluster name": (
        at("ocfs2", "cluster_name"), "ocfs2:cluster_name",
        lambda v: ocfs2.render_cluster_conf(v, [NODE]),
        [
            # As o2cb add-cluster took and refused them (test_rules_tools.py).
            ("ocfs", OK, OK),
            ("Abc", OK, OK),
            ("0123456789abcdef", OK, OK),
            ("0123456789abcdefg", BAD, BAD),
            ("a_b", BAD, BAD),  # the validation took it before
            ("abc-d", BAD, BAD),
            ("a.b", BAD, BAD),
            ("", BAD, BAD),
        ],
    ),
    "o2cb node name (a server's id)": (
        renamed, None,
        lambda v: ocfs2.render_cluster_conf("ocfs", [{**NODE, "name": v}]),
        [
            ("nfs1", OK, OK),
            ("nfs-1", OK, OK),
            ("NFS1", OK, OK),
            ("nfs1.example.org", OK, OK),
            ("a" * 63, OK, OK),
            ("nfs_1", BAD, BAD),  # the validation took it before
            ("a" * 17, OK, OK),  # the validation refused it before
            ("a" * 65, BAD, BAD),  # O2NM_MAX_NAME_LEN
            ("nfs 1", BAD, BAD),
            ("-nfs1", BAD, BAD),
            ("nfs1-", BAD, BAD),
            ("nfs1..example", BAD, BAD),
        ],
    ),
    "partition size": (
        at("ocfs2", "filesystems", "state", "size"), "ocfs2:filesystems:state:size",
        lambda v: ocfs2.partition_differences("/dev/sdb", [{"size": v}, {"size": None}]),
        [
            ("64M", OK, OK),
            ("64MiB", OK, OK),
            ("64MB", OK, OK),
            ("64m", OK, OK),
            ("1G", OK, OK),
            ("64", BAD, BAD),  # the validation took it before
            ("64iB", BAD, BAD),  # the validation took it before
            ("0M", BAD, BAD),
            ("64 megs", BAD, BAD),
            ("-64M", BAD, BAD),
            (64, BAD, BAD),
        ],
    ),
    "file system label": (
        at("ocfs2", "filesystems", "state", "label"), "ocfs2:filesystems:state:label",
        lambda v: ocfs2.mkfs("/dev/sdb1", v, cluster_name="ocfs", test=True),
        [
            ("nfsstate", OK, OK),
            ("a" * 63, OK, OK),
            ("é" * 31, OK, OK),  # 62 bytes
            ("a" * 64, BAD, BAD),
            ("é" * 32, BAD, BAD),  # 64 bytes
            ("nfs state", BAD, BAD),  # the module took it before
            ("", BAD, BAD),
        ],
    ),
    "backing store path": (
        at("iscsi", "backing_store"), "iscsi:backing_store",
        lambda v: target(backing_stores=[v]),
        [
            ("/dev/disk/by-id/virtio-nfsha-shared", OK, OK),
            ("/srv/iscsi/lun1.img", OK, OK),
            ("dev/sdb", BAD, BAD),
            ("/dev/my disk", BAD, BAD),
            ("/dev/sdb;reboot", BAD, BAD),
            ("/dev/$(reboot)", BAD, BAD),
        ],
    ),
    "CHAP user name": (
        at("iscsi", "chap", "username"), "iscsi:chap:username",
        lambda v: target(incoming_users=[{**USER, "username": v}]),
        [
            ("nfs-iscsi-user", OK, OK),
            ("nfs.user@example.org", OK, OK),
            ("u" * 255, OK, OK),
            ("u" * 256, BAD, BAD),  # tgtd's ISCSI_NAME_LEN
            ("nfs user", BAD, BAD),
            ("nfs#user", BAD, BAD),  # the validation took it before
            ("nfs;reboot", BAD, BAD),
            ("usér", BAD, BAD),
            ("", BAD, BAD),
        ],
    ),
    "CHAP secret": (
        at("iscsi", "chap", "password"), "iscsi:chap:password",
        lambda v: target(incoming_users=[{**USER, "password": v}]),
        [
            ("lab-chap-secret1", OK, OK),
            ("x" * 12, OK, OK),
            # RFC 3720's least and the initiators' most: the formula's, not tgt's.
            ("x" * 11, BAD, OK),
            ("x" * 17, BAD, OK),
            ("sécret-sécret", BAD, BAD),  # 13 characters, 15 bytes, not ASCII
            ("secret secret", BAD, BAD),
            ("secret#secret", BAD, BAD),  # the validation took it before
            ("secret$(reboot)", BAD, BAD),
            ("secret'secret", BAD, BAD),
            ('secret"secret', BAD, BAD),
            (123456789012, BAD, BAD),
        ],
    ),
    "CHAP accounts of both directions": (
        at("iscsi", "mutual_chap", "username"), "iscsi:mutual_chap:username",
        lambda v: target(incoming_users=[USER], outgoing_user={"username": v, "password": "lab-mutual-secr2"}),
        [
            ("debian-iscsi-target", OK, OK),
            ("nfs-iscsi-user", BAD, BAD),  # the validation took it before
        ],
    ),
}

EXAMPLES = [
    pytest.param(rule, value, pillar_ok, module_ok, id=f"{rule}: {value!r:.40}")
    for rule, (_, _, _, examples) in RULES.items()
    for value, pillar_ok, module_ok in examples
]


@pytest.mark.parametrize(("rule", "value", "pillar_ok", "module_ok"), EXAMPLES)
def test_the_validation_and_the_module_judge_alike(rule, value, pillar_ok, module_ok):
    edit, key, check, _ = RULES[rule]
    pillar = lab_pillar()
    edit(pillar["nfsha"], value)
    found = problems(pillar)
    key = key or f"nodes:{value}"
    if pillar_ok:
        assert found == []
    else:
        assert any(p.startswith(f"nfsha:{key}:") for p in found), found
    try:
        check(value)
    except SaltInvocationError:
        taken = False
    else:
        taken = True
    assert taken is module_ok
    # What validates runs.
    assert module_ok or not pillar_ok


@pytest.mark.parametrize("value", ["x" * 11, "sécret-sécret", "secret#secret", 123456789012])
def test_the_secret_never_shows_in_either_message(value):
    pillar = lab_pillar()
    pillar["nfsha"]["iscsi"]["chap"]["password"] = value
    messages = problems(pillar)
    try:
        target(incoming_users=[{**USER, "password": value}])
    except SaltInvocationError as exc:
        messages.append(str(exc))
    assert messages
    assert not any(str(value) in message for message in messages)


def test_nfsha_refuses_to_load_without_the_rules():
    nfsha = loaded()
    nfsha.__utils__ = {}
    loads, reason = nfsha.__virtual__()
    assert loads is False and "saltutil.sync_all" in reason
