"""
The ocfs2 states with a mocked loader: what they decide, what they ask the
execution module to do, and what they report.
"""
from unittest.mock import MagicMock

import pytest
from salt.exceptions import CommandExecutionError, SaltInvocationError

from tests.conftest import load_salt_module

ocfs2 = load_salt_module("_states", "ocfs2")

NODES = [
    {"name": "nfs1", "number": 0, "address": "10.252.50.11"},
    {"name": "nfs2", "number": 1, "address": "10.252.50.12"},
]
CONF = "/etc/ocfs2/cluster.conf"
DEFAULTS = "/etc/default/o2cb"
PARTS = [{"size": "64M"}, {"size": None}]
TABLE = {
    "label": "gpt",
    "id": "687C4561-0479-E644-95CF-9076C4152C3A",
    "sector_size": 512,
    "partitions": [
        {"node": "/dev/sdb1", "start": 2048, "size": 131072, "type": "0FC63DAF-8483-4772-8E79-3D69D8477DE4"},
        {"node": "/dev/sdb2", "start": 133120, "size": 389120, "type": "0FC63DAF-8483-4772-8E79-3D69D8477DE4"},
    ],
}
INFO = {
    "label": "nfsdata",
    "uuid": "c9f17bc9-b863-4e56-b323-0b9ea7ab686b",
    "cluster_stack": "o2cb",
    "cluster_name": "ocfs",
    "slots": 2,
    "block_size": 2048,
    "cluster_size": 4096,
}

FENCE = "/usr/local/sbin/nfsha-scsi-fence"
MOUNT_POINTS = ["/var/lib/nfs", "/srv/nfs4/data"]
# What the fence script reports (formula/nfsha/files/scsi-fence.sh.jinja).
REGISTERED = "registered key 0x6e66736800000001 on /dev/sdb"


@pytest.fixture
def opts():
    return {"test": False}


@pytest.fixture(autouse=True)
def devices_exist(monkeypatch):
    """The devices the tests name exist, unless a test says otherwise."""
    present = {"exists": True}
    monkeypatch.setattr(ocfs2.os.path, "exists", lambda path: present["exists"])
    return present


@pytest.fixture
def records():
    """The UUIDs this node recorded, by label (the grain ocfs2_uuids)."""
    return {}


@pytest.fixture
def salt(records):
    """The execution module as mocks: nothing configured, nothing changes."""
    return {
        "ocfs2.info": MagicMock(return_value=None),
        "ocfs2.mkfs": MagicMock(return_value=INFO),
        "ocfs2.recorded_uuid": MagicMock(side_effect=records.get),
        "ocfs2.record_uuid": MagicMock(side_effect=lambda label, fs_uuid: records.update({label: fs_uuid})),
        "ocfs2.write_cluster_conf": MagicMock(return_value={}),
        "ocfs2.set_o2cb_defaults": MagicMock(return_value={}),
        "ocfs2.cluster_status": MagicMock(return_value={"cluster": "ocfs", "online": True, "loaded": True}),
        "ocfs2.online": MagicMock(),
        "ocfs2.partition_differences": MagicMock(return_value=None),
        "ocfs2.partition": MagicMock(return_value=TABLE),
        "ocfs2.partition_table": MagicMock(return_value=TABLE),
        "ocfs2.visible_partitions": MagicMock(return_value=[]),
        "ocfs2.reread_partitions": MagicMock(return_value=["/dev/sdb1", "/dev/sdb2"]),
        "ocfs2.mount_points": MagicMock(return_value=[]),
        "ocfs2.fence_register": MagicMock(return_value=REGISTERED),
    }


@pytest.fixture
def configure_loader_modules(salt, opts):
    return {ocfs2: {"__salt__": salt, "__opts__": opts}}


def test_virtual_loads_without_the_tools():
    assert ocfs2.__virtual__() == "ocfs2"


# Without the execution module (ocfs2-tools not installed yet)

CALLS = [
    lambda: ocfs2.cluster("ocfs", NODES),
    lambda: ocfs2.partitioned("/dev/sdb", PARTS),
    lambda: ocfs2.partitions_visible("/dev/sdb", 2),
    lambda: ocfs2.formatted("/dev/sdb1", "nfsdata"),
    lambda: ocfs2.identified("/dev/sdb1", "nfsdata"),
    lambda: ocfs2.fence_registered(FENCE, MOUNT_POINTS),
]


@pytest.mark.parametrize("call", CALLS)
def test_without_the_module_test_says_what_would_be_done(salt, opts, call):
    salt.clear()
    opts["test"] = True
    ret = call()
    assert ret["result"] is None and ret["changes"] == {}
    assert ret["comment"].startswith("the ocfs2 execution module is not loaded")
    assert "would be" in ret["comment"]


@pytest.mark.parametrize("call", CALLS)
def test_without_the_module_a_run_fails(salt, call):
    salt.clear()
    ret = call()
    assert ret["result"] is False
    assert "ocfs2-tools" in ret["comment"]


# cluster


def test_cluster_as_configured_changes_nothing(salt):
    ret = ocfs2.cluster("ocfs", NODES)
    assert ret == {
        "name": "ocfs",
        "changes": {},
        "result": True,
        "comment": "o2cb cluster ocfs is configured and online",
    }
    salt["ocfs2.write_cluster_conf"].assert_called_once_with("ocfs", NODES, CONF, test=False)
    salt["ocfs2.set_o2cb_defaults"].assert_called_once_with(
        {"O2CB_ENABLED": "true", "O2CB_BOOTCLUSTER": "ocfs"}, DEFAULTS, test=False
    )
    salt["ocfs2.online"].assert_not_called()


def first_setup(salt):
    conf = {"name": {"old": None, "new": "ocfs"}, "nodes": {"old": None, "new": NODES}}
    boot = {"O2CB_ENABLED": {"old": "false", "new": "true"}}
    salt["ocfs2.write_cluster_conf"].return_value = conf
    salt["ocfs2.set_o2cb_defaults"].return_value = boot
    salt["ocfs2.cluster_status"].return_value = {"cluster": "ocfs", "online": False, "loaded": False}
    return conf, boot


def test_cluster_writes_the_files_and_brings_it_online(salt):
    conf, boot = first_setup(salt)
    ret = ocfs2.cluster("ocfs", NODES)
    assert ret["result"] is True
    assert ret["changes"] == {CONF: conf, DEFAULTS: boot, "online": {"old": False, "new": True}}
    assert ret["comment"] == f"o2cb cluster ocfs changed: {CONF}, {DEFAULTS}, online"
    salt["ocfs2.online"].assert_called_once_with("ocfs", CONF, call_timeout=None)


def test_cluster_test_reports_and_changes_nothing(salt, opts):
    conf, boot = first_setup(salt)
    opts["test"] = True
    ret = ocfs2.cluster("ocfs", NODES)
    assert ret["result"] is None
    assert ret["changes"] == {CONF: conf, DEFAULTS: boot, "online": {"old": False, "new": True}}
    assert "the o2cb kernel stack is not loaded: the o2cb service would start" in ret["comment"]
    salt["ocfs2.write_cluster_conf"].assert_called_once_with("ocfs", NODES, CONF, test=True)
    assert salt["ocfs2.set_o2cb_defaults"].call_args.kwargs == {"test": True}
    salt["ocfs2.online"].assert_not_called()


def test_cluster_registers_changed_nodes_of_an_online_cluster(salt):
    moved = {"nodes": {"old": NODES, "new": NODES[:1]}}
    salt["ocfs2.write_cluster_conf"].return_value = moved
    ret = ocfs2.cluster("ocfs", NODES[:1], config="/srv/cluster.conf")
    assert ret["changes"] == {"/srv/cluster.conf": moved}
    salt["ocfs2.cluster_status"].assert_called_once_with("ocfs", "/srv/cluster.conf", call_timeout=None)
    salt["ocfs2.online"].assert_called_once_with("ocfs", "/srv/cluster.conf", call_timeout=None)


def test_cluster_brings_an_offline_cluster_online_without_file_changes(salt):
    salt["ocfs2.cluster_status"].return_value = {"cluster": "ocfs", "online": False, "loaded": True}
    ret = ocfs2.cluster("ocfs", NODES)
    assert ret["changes"] == {"online": {"old": False, "new": True}}
    salt["ocfs2.online"].assert_called_once()


def test_cluster_keeps_the_file_changes_when_going_online_fails(salt):
    conf, boot = first_setup(salt)
    salt["ocfs2.online"].side_effect = CommandExecutionError("the o2cb service did not start")
    ret = ocfs2.cluster("ocfs", NODES)
    assert ret["result"] is False
    assert ret["changes"] == {CONF: conf, DEFAULTS: boot}
    assert ret["comment"] == "o2cb cluster ocfs: the o2cb service did not start"


def test_cluster_names_a_bad_argument(salt):
    error = SaltInvocationError("nodes[1].address: '10.252.50.300' is not an IPv4 address")
    salt["ocfs2.write_cluster_conf"].side_effect = error
    ret = ocfs2.cluster("ocfs", NODES)
    assert ret["result"] is False and ret["changes"] == {}
    assert "nodes[1].address" in ret["comment"]
    salt["ocfs2.set_o2cb_defaults"].assert_not_called()


# partitioned


def test_partitioned_matching_table_changes_nothing(salt):
    salt["ocfs2.partition_differences"].return_value = []
    ret = ocfs2.partitioned("/dev/sdb", PARTS)
    assert ret["result"] is True and ret["changes"] == {}
    assert ret["comment"] == "/dev/sdb has the wanted gpt partition table"
    salt["ocfs2.partition"].assert_not_called()


def test_partitioned_refuses_a_different_table(salt):
    salt["ocfs2.partition_differences"].return_value = ["the table is dos, not gpt"]
    ret = ocfs2.partitioned("/dev/sdb", PARTS)
    assert ret["result"] is False and ret["changes"] == {}
    assert ret["comment"] == (
        "/dev/sdb holds a partition table that differs from the wanted one "
        "(the table is dos, not gpt); refusing to change it"
    )
    salt["ocfs2.partition"].assert_not_called()


def test_partitioned_writes_on_an_empty_disk(salt):
    ret = ocfs2.partitioned("/dev/sdb", PARTS, label="dos", timeout=30)
    salt["ocfs2.partition"].assert_called_once_with(
        "/dev/sdb", PARTS, "dos", test=False, timeout=30, call_timeout=None
    )
    assert ret["result"] is True
    assert ret["changes"] == {"partition_table": {"old": None, "new": TABLE}}
    assert ret["comment"] == "dos partition table written on /dev/sdb"


def test_partitioned_test_asks_for_a_dry_run(salt, opts):
    opts["test"] = True
    planned = {"label": "gpt", "partitions": PARTS}
    salt["ocfs2.partition"].return_value = planned
    ret = ocfs2.partitioned("/dev/sdb", PARTS)
    assert ret["result"] is None
    assert ret["changes"] == {"partition_table": {"old": None, "new": planned}}
    assert salt["ocfs2.partition"].call_args.kwargs["test"] is True


@pytest.mark.parametrize(
    "error",
    [
        CommandExecutionError("/dev/sdb holds an ext4 file system labelled 'data'; refusing to partition it"),
        SaltInvocationError("partitions[0].size: '64X' is not a size with a unit"),
    ],
)
def test_partitioned_fails_with_the_reason(salt, error):
    salt["ocfs2.partition"].side_effect = error
    ret = ocfs2.partitioned("/dev/sdb", PARTS)
    assert ret == {"name": "/dev/sdb", "changes": {}, "result": False, "comment": str(error)}


# partitions_visible


def test_partitions_visible_already(salt):
    salt["ocfs2.visible_partitions"].return_value = ["/dev/sdb1", "/dev/sdb2"]
    ret = ocfs2.partitions_visible("/dev/sdb", 2)
    assert ret["result"] is True and ret["changes"] == {}
    salt["ocfs2.reread_partitions"].assert_not_called()


def test_partitions_visible_rereads_the_table(salt):
    ret = ocfs2.partitions_visible("/dev/sdb", 2, timeout=30)
    salt["ocfs2.reread_partitions"].assert_called_once_with("/dev/sdb", 30, call_timeout=None)
    assert ret["result"] is True
    assert ret["changes"] == {"partitions": {"old": [], "new": ["/dev/sdb1", "/dev/sdb2"]}}


def test_partitions_visible_test_reads_the_table_only(salt, opts):
    opts["test"] = True
    ret = ocfs2.partitions_visible("/dev/sdb", 2)
    assert ret["result"] is None
    assert ret["changes"] == {"partitions": {"old": [], "new": ["/dev/sdb1", "/dev/sdb2"]}}
    salt["ocfs2.reread_partitions"].assert_not_called()


def test_partitions_visible_fails_when_the_table_has_fewer(salt, opts):
    salt["ocfs2.reread_partitions"].return_value = ["/dev/sdb1"]
    ret = ocfs2.partitions_visible("/dev/sdb", 2)
    assert ret["result"] is False
    assert ret["comment"] == "/dev/sdb has 1 partitions in its table, not 2"


def test_partitions_visible_test_without_a_table_fails(salt, opts):
    opts["test"] = True
    salt["ocfs2.partition_table"].return_value = None
    ret = ocfs2.partitions_visible("/dev/sdb", 2)
    assert ret["result"] is False and ret["changes"] == {}


def test_partitions_visible_carries_an_error(salt):
    error = CommandExecutionError("/dev/sdb: the kernel shows partitions [] but the table has [...]")
    salt["ocfs2.reread_partitions"].side_effect = error
    ret = ocfs2.partitions_visible("/dev/sdb", 2)
    assert ret["result"] is False and ret["comment"] == str(error)


@pytest.mark.parametrize("count", [0, "2", None, True])
def test_partitions_visible_names_a_bad_count(salt, count):
    ret = ocfs2.partitions_visible("/dev/sdb", count)
    assert ret["result"] is False and ret["comment"].startswith("count: ")
    salt["ocfs2.visible_partitions"].assert_not_called()


# formatted and identified: the file system by its UUID

OTHER_UUID = "1eda0f14-bc42-4b27-954c-9df64a557746"
FORMATTED = (
    "/dev/sdb2 formatted as OCFS2 'nfsdata', UUID c9f17bc9-b863-4e56-b323-0b9ea7ab686b recorded"
    " (grain ocfs2_uuids)"
)
RESOLVE = (
    "If the LUN was replaced on purpose, forget the old UUIDs on every node that mounts it"
    " (salt <node> grains.delkey ocfs2_uuids force=True) and run again"
)
STATES = {
    "formatted": lambda **kwargs: ocfs2.formatted("/dev/sdb2", "nfsdata", **kwargs),
    "identified": lambda **kwargs: ocfs2.identified("/dev/sdb2", "nfsdata", **kwargs),
}


def test_the_grain_is_the_one_the_module_writes():
    module = load_salt_module("_modules", "ocfs2")
    assert ocfs2._GRAIN == module._UUID_GRAIN


@pytest.mark.parametrize("state", STATES)
@pytest.mark.parametrize("cluster_name", [None, "ocfs"])
def test_the_recorded_file_system_changes_nothing(salt, records, state, cluster_name):
    salt["ocfs2.info"].return_value = INFO
    records["nfsdata"] = INFO["uuid"]
    ret = STATES[state](cluster_name=cluster_name)
    assert ret == {
        "name": "/dev/sdb2",
        "changes": {},
        "result": True,
        "comment": "/dev/sdb2 holds OCFS2 'nfsdata' of cluster 'ocfs',"
        " UUID c9f17bc9-b863-4e56-b323-0b9ea7ab686b as recorded",
    }
    salt["ocfs2.mkfs"].assert_not_called()
    salt["ocfs2.record_uuid"].assert_not_called()


@pytest.mark.parametrize("state", STATES)
def test_the_right_names_with_another_uuid_are_refused(salt, opts, records, state):
    salt["ocfs2.info"].return_value = INFO
    records["nfsdata"] = OTHER_UUID
    for test in (False, True):
        opts["test"] = test
        ret = STATES[state](cluster_name="ocfs")
        assert ret == {
            "name": "/dev/sdb2",
            "changes": {},
            "result": False,
            "comment": "/dev/sdb2 holds OCFS2 'nfsdata' of cluster 'ocfs' with UUID"
            " c9f17bc9-b863-4e56-b323-0b9ea7ab686b, but this node recorded UUID"
            " 1eda0f14-bc42-4b27-954c-9df64a557746 for 'nfsdata' (grain ocfs2_uuids): it is not the"
            " file system this cluster formatted (another cluster's LUN, or a replaced one)."
            f" Nothing changed. {RESOLVE}",
        }
    salt["ocfs2.mkfs"].assert_not_called()
    salt["ocfs2.record_uuid"].assert_not_called()
    assert records == {"nfsdata": OTHER_UUID}


@pytest.mark.parametrize("state", STATES)
def test_an_unrecorded_file_system_with_the_right_names_is_recorded(salt, opts, records, state):
    salt["ocfs2.info"].return_value = INFO
    opts["test"] = True
    ret = STATES[state](cluster_name="ocfs")
    assert ret["result"] is None
    assert ret["changes"] == {"uuid": {"old": None, "new": INFO["uuid"]}}
    assert "which this node has no record of: its UUID would be recorded" in ret["comment"]
    assert "If this cluster never formatted it, it is another cluster's: do not apply" in ret["comment"]
    assert records == {}

    opts["test"] = False
    ret = STATES[state](cluster_name="ocfs")
    assert ret["result"] is True
    assert ret["changes"] == {"uuid": {"old": None, "new": INFO["uuid"]}}
    assert ret["comment"] == (
        "/dev/sdb2 holds OCFS2 'nfsdata' of cluster 'ocfs', UUID c9f17bc9-b863-4e56-b323-0b9ea7ab686b,"
        " now recorded (grain ocfs2_uuids): a device with another UUID will be refused"
    )
    assert records == {"nfsdata": INFO["uuid"]}
    assert STATES[state](cluster_name="ocfs")["changes"] == {}
    salt["ocfs2.mkfs"].assert_not_called()


@pytest.mark.parametrize("state", STATES)
def test_no_ocfs2_where_one_was_recorded_is_refused(salt, opts, records, state):
    records["nfsdata"] = INFO["uuid"]
    for test in (False, True):
        opts["test"] = test
        ret = STATES[state]()
        assert ret == {
            "name": "/dev/sdb2",
            "changes": {},
            "result": False,
            "comment": "/dev/sdb2 holds no OCFS2 file system, but this node recorded 'nfsdata' with UUID"
            " c9f17bc9-b863-4e56-b323-0b9ea7ab686b (grain ocfs2_uuids): the LUN was replaced or wiped."
            f" Nothing changed. {RESOLVE}",
        }
    salt["ocfs2.mkfs"].assert_not_called()


@pytest.mark.parametrize(
    "label, cluster_name, comment",
    [
        ("nfsmeta", None, "/dev/sdb2 holds OCFS2 'nfsdata' of cluster 'ocfs', not 'nfsmeta'; refusing to {} it"),
        (
            "nfsdata",
            "other",
            "/dev/sdb2 holds OCFS2 'nfsdata' of cluster 'ocfs', not 'nfsdata' of cluster 'other';"
            " refusing to {} it",
        ),
    ],
)
@pytest.mark.parametrize("state, action", [(ocfs2.formatted, "format"), (ocfs2.identified, "use")])
def test_ocfs2_made_for_something_else_is_refused(salt, opts, records, label, cluster_name, comment, state, action):
    salt["ocfs2.info"].return_value = INFO
    records.update({"nfsdata": INFO["uuid"], "nfsmeta": INFO["uuid"]})
    for test in (False, True):
        opts["test"] = test
        ret = state("/dev/sdb2", label, cluster_name=cluster_name)
        assert ret == {"name": "/dev/sdb2", "changes": {}, "result": False, "comment": comment.format(action)}
    salt["ocfs2.mkfs"].assert_not_called()
    salt["ocfs2.record_uuid"].assert_not_called()


def test_formatted_formats_an_empty_device_and_records_its_uuid(salt, records):
    ret = ocfs2.formatted("/dev/sdb2", "nfsdata", slots=4, cluster_name="ocfs")
    salt["ocfs2.mkfs"].assert_called_once_with(
        "/dev/sdb2", "nfsdata", slots=4, cluster_name="ocfs", cluster_stack="o2cb", test=False,
        call_timeout=None, mkfs_timeout=None,
    )
    assert ret["result"] is True
    assert ret["changes"] == {field: {"old": None, "new": value} for field, value in INFO.items()}
    assert ret["comment"] == FORMATTED
    assert records == {"nfsdata": INFO["uuid"]}


def test_formatted_reports_the_format_when_the_record_fails(salt, records):
    salt["ocfs2.record_uuid"].side_effect = CommandExecutionError(
        "cannot record the UUID in grain ocfs2_uuids: Unable to read existing grains file: bad"
    )
    ret = ocfs2.formatted("/dev/sdb2", "nfsdata", cluster_name="ocfs")
    assert ret["result"] is False
    assert ret["changes"] == {field: {"old": None, "new": value} for field, value in INFO.items()}
    assert ret["comment"] == (
        "/dev/sdb2 formatted as OCFS2 'nfsdata', UUID c9f17bc9-b863-4e56-b323-0b9ea7ab686b, not recorded:"
        " cannot record the UUID in grain ocfs2_uuids: Unable to read existing grains file: bad"
    )


def test_formatted_test_asks_for_a_dry_run(salt, opts, records):
    opts["test"] = True
    planned = {"label": "nfsdata", "slots": 2, "cluster_name": None, "cluster_stack": None}
    salt["ocfs2.mkfs"].return_value = planned
    ret = ocfs2.formatted("/dev/sdb2", "nfsdata")
    assert ret["result"] is None
    assert ret["changes"]["label"] == {"old": None, "new": "nfsdata"}
    assert salt["ocfs2.mkfs"].call_args.kwargs["test"] is True
    assert records == {}


@pytest.mark.parametrize(
    "error",
    [
        CommandExecutionError("/dev/sdb2 holds an ext4 file system labelled 'data'; refusing to format it"),
        CommandExecutionError("/dev/sdb holds a gpt partition table; refusing to format it"),
        SaltInvocationError("slots: 0 is not an integer 1-255"),
    ],
)
def test_formatted_fails_with_the_reason(salt, records, error):
    salt["ocfs2.mkfs"].side_effect = error
    ret = ocfs2.formatted("/dev/sdb2", "nfsdata", slots=0)
    assert ret == {"name": "/dev/sdb2", "changes": {}, "result": False, "comment": str(error)}
    assert records == {}


def test_formatted_fails_when_the_record_cannot_be_read(salt):
    salt["ocfs2.info"].return_value = INFO
    salt["ocfs2.recorded_uuid"].side_effect = CommandExecutionError("grain ocfs2_uuids is not a mapping")
    for state in STATES.values():
        ret = state()
        assert ret["result"] is False and ret["comment"] == "grain ocfs2_uuids is not a mapping"
    salt["ocfs2.mkfs"].assert_not_called()


def test_formatted_carries_a_probe_error(salt):
    salt["ocfs2.info"].side_effect = CommandExecutionError("wipefs: error: /dev/sdx: probing initialization failed")
    for state in (ocfs2.formatted, ocfs2.identified):
        ret = state("/dev/sdx", "nfsdata")
        assert ret["result"] is False and "probing initialization failed" in ret["comment"]
    salt["ocfs2.mkfs"].assert_not_called()


def test_identified_waits_for_the_format_node(salt, opts, records):
    # Never formats: an empty device fails, or is planned under test=True.
    ret = ocfs2.identified("/dev/sdb2", "nfsdata", cluster_name="ocfs")
    assert ret == {
        "name": "/dev/sdb2",
        "changes": {},
        "result": False,
        "comment": "/dev/sdb2 holds no OCFS2 file system: the node that formats the shared disk"
        " has not made 'nfsdata' yet",
    }
    opts["test"] = True
    ret = ocfs2.identified("/dev/sdb2", "nfsdata", cluster_name="ocfs")
    assert ret["result"] is None and ret["changes"] == {}
    assert ret["comment"] == (
        "/dev/sdb2 holds no OCFS2 file system yet; the OCFS2 file system 'nfsdata' on /dev/sdb2"
        " would be identified once it does"
    )
    salt["ocfs2.mkfs"].assert_not_called()
    assert records == {}


@pytest.mark.parametrize(
    ("call", "would"),
    [
        (lambda: ocfs2.partitioned("/dev/sdb", PARTS), "a gpt partition table would be written on /dev/sdb"),
        (lambda: ocfs2.partitions_visible("/dev/sdb", 2), "the partition table of /dev/sdb would be re-read"),
        (lambda: ocfs2.formatted("/dev/sdb1", "nfsdata"), "/dev/sdb1 would be formatted as OCFS2 'nfsdata'"),
        (
            lambda: ocfs2.identified("/dev/sdb1", "nfsdata"),
            "the OCFS2 file system 'nfsdata' on /dev/sdb1 would be identified",
        ),
    ],
)
def test_a_missing_device_is_planned_under_test_and_fails_otherwise(call, would, opts, salt, devices_exist):
    devices_exist["exists"] = False
    ret = call()
    assert ret["result"] is False
    assert ret["comment"].endswith("does not exist")
    assert ret["changes"] == {}
    opts["test"] = True
    ret = call()
    assert ret["result"] is None
    assert ret["comment"].endswith(f"does not exist yet; {would} once it does")
    for name in ("ocfs2.partition", "ocfs2.mkfs", "ocfs2.reread_partitions", "ocfs2.info", "ocfs2.record_uuid"):
        salt[name].assert_not_called()


TIMEOUTS = {"heartbeat_threshold": 16, "idle_timeout_ms": 30000, "keepalive_delay_ms": 2000, "reconnect_delay_ms": 2000}


def test_cluster_writes_the_timeouts_with_the_boot_settings(salt):
    first_setup(salt)
    ocfs2.cluster("ocfs", NODES, timeouts=TIMEOUTS)
    salt["ocfs2.set_o2cb_defaults"].assert_called_once_with({
        "O2CB_ENABLED": "true", "O2CB_BOOTCLUSTER": "ocfs", "O2CB_HEARTBEAT_THRESHOLD": "16",
        "O2CB_IDLE_TIMEOUT_MS": "30000", "O2CB_KEEPALIVE_DELAY_MS": "2000", "O2CB_RECONNECT_DELAY_MS": "2000",
    }, DEFAULTS, test=False)
    # A new cluster starts with them: nothing to say.
    assert "apply when" not in ocfs2.cluster("ocfs", NODES, timeouts=TIMEOUTS)["comment"]


def test_new_timeouts_of_a_running_cluster_wait_for_its_restart(salt):
    salt["ocfs2.set_o2cb_defaults"].return_value = {"O2CB_HEARTBEAT_THRESHOLD": {"old": "31", "new": "16"}}
    ret = ocfs2.cluster("ocfs", NODES, timeouts=TIMEOUTS)
    assert ret["result"] is True
    assert ret["changes"] == {DEFAULTS: {"O2CB_HEARTBEAT_THRESHOLD": {"old": "31", "new": "16"}}}
    assert ret["comment"] == (
        f"o2cb cluster ocfs changed: {DEFAULTS}; new timeouts (O2CB_HEARTBEAT_THRESHOLD) apply when the cluster"
        " next starts on every server (the servers must agree on them: stop it on all, then start it)"
    )
    salt["ocfs2.online"].assert_not_called()


# --- bounded calls -------------------------------------------------------------


def test_every_state_hands_its_bounds_to_each_call(salt, opts):
    ocfs2.cluster("ocfs", NODES, call_timeout=7)
    salt["ocfs2.cluster_status"].assert_called_once_with("ocfs", CONF, call_timeout=7)
    ocfs2.partitioned("/dev/sdb", PARTS, call_timeout=7)
    salt["ocfs2.partition_differences"].assert_called_once_with("/dev/sdb", PARTS, "gpt", call_timeout=7)
    assert salt["ocfs2.partition"].call_args.kwargs["call_timeout"] == 7
    ocfs2.partitions_visible("/dev/sdb", 2, call_timeout=7)
    salt["ocfs2.visible_partitions"].assert_called_once_with("/dev/sdb", call_timeout=7)
    salt["ocfs2.reread_partitions"].assert_called_once_with("/dev/sdb", 10, call_timeout=7)
    ocfs2.formatted("/dev/sdb2", "nfsdata", call_timeout=7, mkfs_timeout=900)
    salt["ocfs2.info"].assert_called_once_with("/dev/sdb2", call_timeout=7)
    assert {key: salt["ocfs2.mkfs"].call_args.kwargs[key] for key in ("call_timeout", "mkfs_timeout")} == {
        "call_timeout": 7, "mkfs_timeout": 900,
    }
    salt["ocfs2.info"].reset_mock()
    ocfs2.identified("/dev/sdb2", "nfsdata", call_timeout=7)
    salt["ocfs2.info"].assert_called_once_with("/dev/sdb2", call_timeout=7)


@pytest.mark.parametrize("test_mode", [False, True])
def test_a_program_that_does_not_answer_fails_the_state_with_its_name_and_bound(salt, opts, test_mode):
    hung = "wipefs /dev/sdb2 did not answer within 60 s (hung disk?)"
    salt["ocfs2.info"].side_effect = CommandExecutionError(hung)
    salt["ocfs2.cluster_status"].side_effect = CommandExecutionError(
        "o2cb cluster-status did not answer within 60 s (hung o2cb?)"
    )
    opts["test"] = test_mode
    assert ocfs2.formatted("/dev/sdb2", "nfsdata") == {
        "name": "/dev/sdb2", "changes": {}, "result": False, "comment": hung,
    }
    ret = ocfs2.cluster("ocfs", NODES)
    assert ret["result"] is False
    assert ret["comment"] == "o2cb cluster ocfs: o2cb cluster-status did not answer within 60 s (hung o2cb?)"
    salt["ocfs2.mkfs"].assert_not_called()
    salt["ocfs2.online"].assert_not_called()


# fence_registered


def test_fence_registered_leaves_a_server_with_everything_mounted(salt, opts):
    salt["ocfs2.mount_points"].return_value = ["/boot", *MOUNT_POINTS]
    for test_mode in (False, True):
        opts["test"] = test_mode
        assert ocfs2.fence_registered(FENCE, MOUNT_POINTS) == {
            "name": FENCE, "changes": {}, "result": True,
            "comment": "OCFS2 is mounted on /var/lib/nfs, /srv/nfs4/data: no mount to register before",
        }
    salt["ocfs2.fence_register"].assert_not_called()


@pytest.mark.parametrize("mounted", [[], ["/var/lib/nfs"]])
def test_fence_registered_registers_before_a_mount(salt, opts, mounted):
    salt["ocfs2.mount_points"].return_value = mounted
    missing = ", ".join(sorted(set(MOUNT_POINTS) - set(mounted)))
    opts["test"] = True
    assert ocfs2.fence_registered(FENCE, MOUNT_POINTS) == {
        "name": FENCE, "changes": {}, "result": None,
        "comment": f"{missing} not mounted: this node's key would be registered by {FENCE} register",
    }
    salt["ocfs2.fence_register"].assert_not_called()
    opts["test"] = False
    assert ocfs2.fence_registered(FENCE, MOUNT_POINTS, call_timeout=160) == {
        "name": FENCE, "changes": {"registered": REGISTERED}, "result": True,
        "comment": f"{missing} not mounted: {REGISTERED}",
    }
    salt["ocfs2.fence_register"].assert_called_once_with(FENCE, call_timeout=160)


@pytest.mark.parametrize("error", [
    CommandExecutionError("register: refused: this server was fenced (reservation held by 0x6e66736800000002)"
                          " and has OCFS2 mounted: it must reboot first"),
    CommandExecutionError("/usr/local/sbin/nfsha-scsi-fence did not answer within 160 s (hung disk?)"),
])
def test_fence_registered_fails_with_the_scripts_reason(salt, error):
    salt["ocfs2.fence_register"].side_effect = error
    assert ocfs2.fence_registered(FENCE, MOUNT_POINTS) == {
        "name": FENCE, "changes": {}, "result": False, "comment": str(error),
    }


def test_fence_registered_fails_when_the_mounts_cannot_be_read(salt):
    salt["ocfs2.mount_points"].side_effect = PermissionError(13, "Permission denied")
    ret = ocfs2.fence_registered(FENCE, MOUNT_POINTS)
    assert ret["result"] is False and ret["comment"] == "cannot read the mounts: [Errno 13] Permission denied"
    salt["ocfs2.fence_register"].assert_not_called()
