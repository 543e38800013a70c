"""
The ocfs2 execution module on recorded outputs of wipefs, sfdisk, lsblk,
debugfs.ocfs2, mounted.ocfs2 and o2cb, with cmd.run_all answering by argv.
"""
from unittest.mock import MagicMock, mock_open, patch

import pytest
from salt.exceptions import CommandExecutionError, SaltInvocationError

from tests.conftest import load_salt_module, recorded, timed_out

ocfs2 = load_salt_module("_modules", "ocfs2")

WIPEFS = ("wipefs", "--no-act", "--json", "--output", "UUID,LABEL,TYPE,OFFSET,USAGE")
MKFS_NFSDATA = (
    "mkfs.ocfs2", "-q", "-N", "2", "-L", "nfsdata",
    "--cluster-stack=o2cb", "--cluster-name=ocfs", "/dev/loop0p2",
)
MIB = 1024 * 1024
LAB_O2CB = "o2cb --config-file=/srv/lab/ocfs2/etc/cluster.conf"


class Commands:
    """cmd.run_all stand-in: answers by argv; an unexpected command fails."""

    def __init__(self):
        self.answers = {}
        self.calls = []

    def on(self, *argv, stdout="", stderr="", retcode=0):
        self.answers[argv] = {"stdout": stdout, "stderr": stderr, "retcode": retcode}

    def __call__(self, argv, python_shell=None, **kwargs):
        assert python_shell is False
        self.calls.append((tuple(argv), kwargs))
        assert tuple(argv) in self.answers, f"unexpected command {argv}"
        return self.answers[tuple(argv)]

    def ran(self, program):
        return [argv for argv, _ in self.calls if argv[0] == program]


def transcript(relpath, command):
    """The output that follows ``$ command`` in a recorded transcript."""
    return recorded(relpath).split(f"$ {command}\n", 1)[1].split("\n$ ", 1)[0]


@pytest.fixture
def run():
    return Commands()


@pytest.fixture
def salt_functions(run):
    return {"cmd.run_all": run, "service.start": MagicMock(return_value=True)}


@pytest.fixture
def configure_loader_modules(salt_functions):
    return {ocfs2: {"__salt__": salt_functions}}


def disk(run, device, wipefs=None, sfdisk=None, size=256 * MIB):
    """Answer the probes of ``device``: its signatures, table and size."""
    run.on("blockdev", "--flushbufs", device)
    run.on(*WIPEFS, device, stdout=recorded(f"ocfs2/{wipefs or 'wipefs-empty.json'}"))
    if sfdisk:
        run.on("sfdisk", "--json", device, stdout=recorded(f"ocfs2/{sfdisk}"))
    else:
        run.on(
            "sfdisk", "--json", device, retcode=1,
            stderr=recorded("ocfs2/sfdisk-json-notable.stderr").replace("/dev/loop1", device),
        )
    run.on("blockdev", "--getsize64", device, stdout=str(size))


# __virtual__


@pytest.mark.parametrize(
    "missing, package",
    [("mkfs.ocfs2", "ocfs2-tools"), ("sfdisk", "fdisk"), ("/sbin/modprobe", "kmod")],
)
def test_virtual_names_the_missing_package(missing, package):
    with patch("salt.utils.path.which", lambda tool: None if tool == missing else f"/x/{tool}"):
        with patch.object(ocfs2.os.path, "exists", lambda path: path != missing):
            loaded, reason = ocfs2.__virtual__()
    assert loaded is False
    assert missing in reason and f"package {package}" in reason


def test_virtual_loads_when_the_tools_are_there():
    with patch("salt.utils.path.which", lambda tool: f"/x/{tool}"):
        with patch.object(ocfs2.os.path, "exists", lambda path: True):
            assert ocfs2.__virtual__() == "ocfs2"


# signatures


def test_signatures_of_an_empty_device(run):
    disk(run, "/dev/loop1")
    assert ocfs2.signatures("/dev/loop1") == []


def test_signatures_of_a_gpt_disk(run):
    disk(run, "/dev/loop0", wipefs="wipefs-gpt.json")
    found = ocfs2.signatures("/dev/loop0")
    assert [(sig["type"], sig["usage"], sig["offset"]) for sig in found] == [
        ("gpt", "partition-table", 0x200),
        ("gpt", "partition-table", 0xFFFFE00),
        ("PMBR", "partition-table", 0x1FE),
    ]


def test_signatures_of_ext4(run):
    disk(run, "/dev/loop1", wipefs="wipefs-ext4.json")
    assert ocfs2.signatures("/dev/loop1") == [
        {
            "type": "ext4",
            "usage": "filesystem",
            "offset": 0x438,
            "uuid": "d0ee3600-e749-4e3e-81eb-17f92582f7c1",
            "label": "data",
        }
    ]


def test_signatures_carries_the_wipefs_error(run):
    stderr = recorded("ocfs2/wipefs-missing.stderr")
    run.on(*WIPEFS, "/dev/nonexist", stderr=stderr, retcode=1)
    with pytest.raises(CommandExecutionError, match="probing initialization failed"):
        ocfs2.signatures("/dev/nonexist")


@pytest.mark.parametrize("device", ["loop0", "", None, "-F"])
def test_a_device_must_be_an_absolute_path(run, device):
    with pytest.raises(SaltInvocationError, match="device: "):
        ocfs2.signatures(device)
    assert not run.calls


@pytest.mark.parametrize(
    "wipefs, text",
    [
        ("wipefs-gpt.json", "a gpt partition table"),
        ("wipefs-dos.json", "a dos partition table"),
        ("wipefs-ext4.json", "an ext4 file system labelled 'data'"),
        ("wipefs-ocfs2.json", "an ocfs2 file system labelled 'nfsdata'"),
    ],
)
def test_describe_names_what_is_there(wipefs, text):
    assert ocfs2._describe(ocfs2._parse_wipefs(recorded(f"ocfs2/{wipefs}"))) == text


def test_describe_lists_each_kind_once():
    found = [
        {"type": "dos", "usage": "partition-table", "label": None},
        {"type": "LVM2_member", "usage": "raid", "label": None},
        {"type": "swap", "usage": "other", "label": None},
        {"type": "dos", "usage": "partition-table", "label": None},
    ]
    assert ocfs2._describe(found) == (
        "a dos partition table, a LVM2_member RAID member, a swap signature"
    )


# info


def test_info_of_an_ocfs2_volume(run):
    disk(run, "/dev/loop0p1", wipefs="wipefs-ocfs2.json")
    stats = transcript("ocfs2/ocfs2-identify.txt", "debugfs.ocfs2 -R stats /dev/loop0p1")
    run.on("debugfs.ocfs2", "-R", "stats", "/dev/loop0p1", stdout=stats)
    assert ocfs2.info("/dev/loop0p1") == {
        "label": "nfsmeta",
        "uuid": "4670bf1c-d582-49bb-a92e-93922d90495d",
        "cluster_stack": "o2cb",
        "cluster_name": "ocfs",
        "slots": 2,
        "block_size": 1024,
        "cluster_size": 4096,
    }


def test_info_of_a_classic_volume_has_no_cluster_name(run):
    disk(run, "/dev/loop0p1", wipefs="wipefs-ocfs2.json")
    stats = recorded("ocfs2/debugfs-stats-classic.txt")
    run.on("debugfs.ocfs2", "-R", "stats", "/dev/loop0p1", stdout=stats)
    found = ocfs2.info("/dev/loop0p1")
    assert (found["label"], found["cluster_stack"], found["cluster_name"], found["slots"]) == (
        "classic",
        "o2cb",
        None,
        4,
    )


def test_info_keeps_an_empty_label():
    stats = recorded("ocfs2/debugfs-stats-classic.txt").replace("Label: classic", "Label: ")
    assert ocfs2._parse_stats(stats)["label"] == ""


@pytest.mark.parametrize("wipefs", ["wipefs-empty.json", "wipefs-ext4.json", "wipefs-gpt.json"])
def test_info_is_none_without_ocfs2(run, wipefs):
    disk(run, "/dev/loop1", wipefs=wipefs)
    assert ocfs2.info("/dev/loop1") is None
    assert not run.ran("debugfs.ocfs2")


def test_info_raises_when_debugfs_cannot_open_the_device(run):
    # debugfs.ocfs2 exits 0 here: only the missing superblock tells.
    disk(run, "/dev/loop0", wipefs="wipefs-ocfs2.json")
    run.on(
        "debugfs.ocfs2", "-R", "stats", "/dev/loop0",
        stdout=recorded("ocfs2/debugfs-stats-notocfs2.stdout"),
        stderr=recorded("ocfs2/debugfs-stats-notocfs2.stderr"),
    )
    with pytest.raises(CommandExecutionError, match="Bad magic number"):
        ocfs2.info("/dev/loop0")


# mkfs


def ocfs2_after_mkfs(run, device="/dev/loop0p2"):
    """After mkfs the probes find the new volume."""
    run.on(*WIPEFS, device, stdout=recorded("ocfs2/wipefs-ocfs2.json"))
    stats = transcript("ocfs2/ocfs2-identify.txt", "debugfs.ocfs2 -R stats /dev/loop0p1")
    run.on("debugfs.ocfs2", "-R", "stats", device, stdout=stats.replace("nfsmeta", "nfsdata"))


def formatting(run):
    """cmd.run_all where mkfs.ocfs2 makes the volume the probes find afterwards."""

    def answer(argv, python_shell=None, **kwargs):
        result = Commands.__call__(run, argv, python_shell, **kwargs)
        if argv[0] == "mkfs.ocfs2":
            ocfs2_after_mkfs(run)
        return result

    return answer


def test_mkfs_reads_the_disk_then_formats_with_mkfs_ocfs2_asking(run):
    disk(run, "/dev/loop0p2")
    run.on(*MKFS_NFSDATA, stdout=recorded("ocfs2/ocfs2-mkfs-p2-final.txt"))
    with patch.dict(ocfs2.__salt__, {"cmd.run_all": formatting(run)}):
        made = ocfs2.mkfs("/dev/loop0p2", "nfsdata", cluster_name="ocfs")
    assert made["label"] == "nfsdata" and made["cluster_name"] == "ocfs"
    # The cache dropped, the disk read, then mkfs.ocfs2 without -x: it asks
    # before overwriting an OCFS2 volume, and the empty stdin says no.
    assert [argv[0] for argv, _ in run.calls][:3] == ["blockdev", "wipefs", "mkfs.ocfs2"]
    [(argv, kwargs)] = [call for call in run.calls if call[0][0] == "mkfs.ocfs2"]
    assert argv == MKFS_NFSDATA and kwargs["stdin"] == ""


def test_mkfs_refuses_what_another_node_wrote_after_this_one_looked(run):
    # This node's cached view of the disk is empty (what the state saw);
    # once the cache is dropped, the disk shows the ext4 another node made.
    run.on(*WIPEFS, "/dev/loop0p2", stdout=recorded("ocfs2/wipefs-empty.json"))
    assert ocfs2.signatures("/dev/loop0p2") == []

    def answer(argv, python_shell=None, **kwargs):
        result = Commands.__call__(run, argv, python_shell, **kwargs)
        if tuple(argv[:2]) == ("blockdev", "--flushbufs"):
            run.on(*WIPEFS, "/dev/loop0p2", stdout=recorded("ocfs2/wipefs-ext4.json"))
        return result

    run.on("blockdev", "--flushbufs", "/dev/loop0p2")
    with patch.dict(ocfs2.__salt__, {"cmd.run_all": answer}):
        with pytest.raises(CommandExecutionError, match="holds an ext4 file system labelled 'data'"):
            ocfs2.mkfs("/dev/loop0p2", "nfsdata", cluster_name="ocfs")
    assert not run.ran("mkfs.ocfs2")


@pytest.mark.parametrize(
    "wipefs, found",
    [
        ("wipefs-ext4.json", "holds an ext4 file system labelled 'data'"),
        ("wipefs-dos.json", "holds a dos partition table"),
        ("wipefs-ocfs2.json", "holds an ocfs2 file system labelled 'nfsdata'"),
    ],
)
def test_mkfs_refuses_a_device_that_holds_something(run, wipefs, found):
    disk(run, "/dev/loop0p2", wipefs=wipefs)
    with pytest.raises(CommandExecutionError, match=f"{found}; refusing to format it"):
        ocfs2.mkfs("/dev/loop0p2", "nfsdata", cluster_name="ocfs")
    assert not run.ran("mkfs.ocfs2")


def test_mkfs_test_checks_and_writes_nothing(run):
    disk(run, "/dev/loop0p2")
    assert ocfs2.mkfs("/dev/loop0p2", "nfsdata", slots=4, cluster_name="ocfs", test=True) == {
        "label": "nfsdata",
        "slots": 4,
        "cluster_name": "ocfs",
        "cluster_stack": "o2cb",
    }
    assert run.ran("wipefs") and not run.ran("mkfs.ocfs2") and not run.ran("blockdev")


def test_mkfs_test_refuses_too(run):
    disk(run, "/dev/loop0p2", wipefs="wipefs-ext4.json")
    with pytest.raises(CommandExecutionError, match="ext4"):
        ocfs2.mkfs("/dev/loop0p2", "nfsdata", test=True)


def test_mkfs_force_overwrites_without_looking(run):
    # -F skips the cluster check, -x the question: both are asked for.
    argv = ("mkfs.ocfs2", "-q", "-N", "2", "-L", "nfsdata", "-F", "-x", "/dev/loop0p2")
    run.on(*argv)
    ocfs2_after_mkfs(run)
    ocfs2.mkfs("/dev/loop0p2", "nfsdata", force=True)
    assert run.ran("mkfs.ocfs2") == [argv]
    assert len(run.ran("wipefs")) == 1  # only info() looked, after formatting


def test_mkfs_carries_the_mkfs_error(run):
    # mkfs.ocfs2 without -x or -F found an OCFS2 volume (one that appeared
    # after the check) and could not ask the cluster whether it is in use.
    disk(run, "/dev/loop0p2")
    lines = recorded("ocfs2/ocfs2-mkfs-overwrite-noF.txt").splitlines()
    stderr = next(line for line in lines if line.startswith("mkfs.ocfs2: "))
    run.on("mkfs.ocfs2", "-q", "-N", "2", "-L", "nfsdata", "/dev/loop0p2", stderr=stderr, retcode=1)
    with pytest.raises(CommandExecutionError, match="Unable to access cluster service"):
        ocfs2.mkfs("/dev/loop0p2", "nfsdata")


def test_mkfs_carries_mkfs_ocfs2s_own_refusal(run):
    # With the cluster online, mkfs.ocfs2 without -x asks before overwriting
    # an OCFS2 volume, and the empty stdin says no (recorded with -F, which
    # skips the cluster check that fails on a machine without the stack).
    disk(run, "/dev/loop0p2")
    transcript_text = recorded("ocfs2/mkfs-q-existing-stdin-empty.txt")
    refusal = transcript_text.split("(existing ocfs2: the question, answered by an empty stdin)\n")[1]
    stdout = refusal.split("--- stdout\n")[1].split("--- stderr\n")[0]
    assert stdout.endswith("Proceed (y/N): Aborting operation.\n")
    run.on(*MKFS_NFSDATA, stdout=stdout, retcode=1)
    with pytest.raises(CommandExecutionError, match=r"Proceed \(y/N\): Aborting operation"):
        ocfs2.mkfs("/dev/loop0p2", "nfsdata", cluster_name="ocfs")


@pytest.mark.parametrize(
    "kwargs, argument",
    [
        ({"label": ""}, "label"),
        ({"label": "x" * 64}, "label"),
        ({"label": "two\nlines"}, "label"),
        ({"slots": 0}, "slots"),
        ({"slots": 256}, "slots"),
        ({"slots": "2"}, "slots"),
        ({"slots": True}, "slots"),
        ({"cluster_stack": "heartbeat"}, "cluster_stack"),
        ({"cluster_name": "ocfs-lab"}, "cluster_name"),
        ({"cluster_name": "x" * 17}, "cluster_name"),
        ({"cluster_name": "pcmk lab", "cluster_stack": "pcmk"}, "cluster_name"),
    ],
)
def test_mkfs_names_a_bad_argument_before_running_anything(run, kwargs, argument):
    with pytest.raises(SaltInvocationError, match=f"^{argument}: "):
        ocfs2.mkfs(**{"device": "/dev/loop0p2", "label": "nfsdata", **kwargs})
    assert not run.calls


def test_mkfs_argv_for_another_stack():
    argv = ocfs2._mkfs_argv("/dev/sdb1", "data", 3, "ha-lab", "pcmk", False)
    assert argv == [
        "mkfs.ocfs2", "-q", "-N", "3", "-L", "data",
        "--cluster-stack=pcmk", "--cluster-name=ha-lab", "/dev/sdb1",
    ]


# The UUIDs a node recorded


UUIDS = {"nfsstate": "4670bf1c-d582-49bb-a92e-93922d90495d"}


@pytest.fixture
def grains(salt_functions):
    """The minion's grains, and grains.setval as Salt does it: in memory and on file."""
    grains = {"id": "nfs1"}
    written = {}

    def setval(key, value, refresh_pillar=True):
        assert refresh_pillar is False
        grains[key] = written[key] = value
        return {key: value}

    salt_functions["grains.setval"] = setval
    with patch.object(ocfs2, "__grains__", grains, create=True):
        yield written


def test_nothing_is_recorded_at_first(grains):
    assert ocfs2.recorded_uuid("nfsstate") is None
    assert ocfs2.mount_device("/dev/sdb1", "nfsstate") == "/dev/sdb1"


def test_a_recorded_uuid_names_the_file_system_in_fstab(grains):
    assert ocfs2.record_uuid("nfsstate", UUIDS["nfsstate"]) == UUIDS
    # Upper case and without dashes, as tunefs.ocfs2 and debugfs.ocfs2 show it.
    both = ocfs2.record_uuid("nfsdata", "C9F17BC9B8634E56B3230B9EA7AB686B")
    assert both == {**UUIDS, "nfsdata": "c9f17bc9-b863-4e56-b323-0b9ea7ab686b"}
    assert grains == {"ocfs2_uuids": both}
    assert ocfs2.recorded_uuid("nfsdata") == "c9f17bc9-b863-4e56-b323-0b9ea7ab686b"
    assert ocfs2.mount_device("/dev/sdb1", "nfsstate") == "UUID=4670bf1c-d582-49bb-a92e-93922d90495d"
    assert ocfs2.mount_device("/dev/sdb3", "other") == "/dev/sdb3"


@pytest.mark.parametrize(
    "label, fs_uuid, message",
    [("", UUIDS["nfsstate"], "^label: "), ("nfsstate", "4670bf1c", "^fs_uuid: '4670bf1c' is not a UUID")],
)
def test_record_uuid_names_a_bad_argument(grains, label, fs_uuid, message):
    with pytest.raises(SaltInvocationError, match=message):
        ocfs2.record_uuid(label, fs_uuid)
    assert grains == {}


def test_a_grains_file_salt_cannot_read_fails_the_record(grains, salt_functions):
    complaint = "Unable to read existing grains file: mapping values are not allowed here"
    salt_functions["grains.setval"] = MagicMock(return_value=complaint)
    with pytest.raises(CommandExecutionError, match=f"grain ocfs2_uuids: {complaint}"):
        ocfs2.record_uuid("nfsstate", UUIDS["nfsstate"])


def test_a_grain_that_is_not_a_mapping_is_reported(grains):
    ocfs2.__grains__["ocfs2_uuids"] = "4670bf1c-d582-49bb-a92e-93922d90495d"
    with pytest.raises(CommandExecutionError, match="grains.delkey ocfs2_uuids force=True"):
        ocfs2.recorded_uuid("nfsstate")


# mount_points


def test_mount_points_are_the_ocfs2_ones(monkeypatch):
    text = recorded("mount/proc-self-mounts-nfs1.txt")
    monkeypatch.setattr(ocfs2, "open", mock_open(read_data=text), raising=False)
    assert ocfs2.mount_points() == ["/var/lib/nfs", "/srv/nfs4/data"]


def test_mount_points_decode_the_kernels_escapes():
    assert ocfs2._parse_mounts(recorded("mount/proc-self-mounts-space.txt")) == {"/tmp/rec/state dir": "tmpfs"}


# fence_register


FENCE = "/usr/local/sbin/nfsha-scsi-fence"


def test_fence_register_returns_the_scripts_report(run):
    # The fence script's own words (formula/nfsha/files/scsi-fence.sh.jinja).
    run.on(FENCE, "register", stdout="registered key 0x6e66736800000001 on /dev/sdb\n")
    assert ocfs2.fence_register(FENCE, call_timeout=160) == "registered key 0x6e66736800000001 on /dev/sdb"
    assert run.calls[0][1]["timeout"] == 160


def test_fence_register_raises_with_the_scripts_refusal(run):
    refusal = ("register: refused: this server was fenced (reservation held by 0x6e66736800000002)"
               " and has OCFS2 mounted: it must reboot first\n")
    run.on(FENCE, "register", stderr=refusal, retcode=1)
    with pytest.raises(CommandExecutionError, match=r"^register: refused: this server was fenced"):
        ocfs2.fence_register(FENCE)
    assert run.calls[0][1]["timeout"] == ocfs2.CALL_TIMEOUT


def test_fence_register_names_the_script_that_hung(run):
    run.answers[(FENCE, "register")] = timed_out([FENCE, "register"], 160)
    with pytest.raises(CommandExecutionError, match=rf"^{FENCE} did not answer within 160 s \(hung disk\?\)$"):
        ocfs2.fence_register(FENCE, call_timeout=160)


@pytest.mark.parametrize("script", ["nfsha-scsi-fence", None])
def test_fence_register_wants_an_absolute_path(run, script):
    with pytest.raises(SaltInvocationError, match="^script: .* is not an absolute path$"):
        ocfs2.fence_register(script)
    assert run.calls == []


# mounted_nodes


def test_mounted_nodes_of_an_unmounted_volume(run):
    run.on("mounted.ocfs2", "-f", "/dev/loop0p2", stdout=recorded("ocfs2/mounted-f-all.txt"))
    assert ocfs2.mounted_nodes("/dev/loop0p2") == []


def test_mounted_nodes_of_a_classic_volume_with_a_blank_cluster_column():
    assert ocfs2._parse_mounted(recorded("ocfs2/mounted-f-all.txt")) == {
        "/dev/loop0p1": "Not mounted",
        "/dev/loop0p2": "Not mounted",
    }


@pytest.mark.parametrize("column, nodes", [("nfs1, nfs2", ["nfs1", "nfs2"]), ("1", ["1"])])
def test_mounted_nodes_lists_names_or_numbers(run, column, nodes):
    # mounted.c prints node names joined by ", " (numbers when the cluster is
    # offline); this kernel cannot mount OCFS2, so the row is built from the
    # recorded one.
    text = recorded("ocfs2/mounted-f-all.txt").replace("ocfs        Not mounted", f"ocfs        {column}")
    run.on("mounted.ocfs2", "-f", "/dev/loop0p2", stdout=text)
    assert ocfs2.mounted_nodes("/dev/loop0p2") == nodes


def test_mounted_nodes_is_none_without_ocfs2(run):
    run.on("mounted.ocfs2", "-f", "/dev/loop1", stdout=recorded("ocfs2/mounted-f-notocfs2.txt"))
    assert ocfs2.mounted_nodes("/dev/loop1") is None


def test_mounted_nodes_raises_when_a_volume_cannot_be_read(run):
    # On an error mounted.ocfs2 leaves the nodes column empty and writes
    # "Unknown: <error>" on stderr.
    text = "Device        Stack  Cluster  F  Nodes\n/dev/loop0p2  o2cb   ocfs        "
    stderr = "Unknown: Bad magic number in inode  \n"
    run.on("mounted.ocfs2", "-f", "/dev/loop0p2", stdout=text, stderr=stderr)
    with pytest.raises(CommandExecutionError, match="Bad magic number"):
        ocfs2.mounted_nodes("/dev/loop0p2")


# cluster.conf


NODES = [
    {"name": "nfs2", "number": 1, "address": "10.252.50.12"},
    {"name": "nfs1", "number": 0, "address": "10.252.50.11", "port": 7777},
]
PARSED = {
    "name": "ocfs",
    "heartbeat_mode": "local",
    "node_count": 2,
    "nodes": [
        {"name": "nfs1", "number": 0, "address": "10.252.50.11", "port": 7777},
        {"name": "nfs2", "number": 1, "address": "10.252.50.12", "port": 7777},
    ],
}


def test_render_cluster_conf_matches_the_recorded_file():
    assert ocfs2.render_cluster_conf("ocfs", NODES) == recorded("ocfs2/ocfs2-cluster.conf")


def test_render_cluster_conf_writes_a_given_port():
    text = ocfs2.render_cluster_conf("ocfs", [{"name": "a", "number": 3, "address": "10.0.0.1", "port": 7000}])
    assert "\tnumber = 3\n\tip_port = 7000\n\tip_address = 10.0.0.1\n\tname = a\n" in text
    assert "\tnode_count = 1\n" in text


@pytest.mark.parametrize(
    "name, nodes, message",
    [
        ("ocfs-2", NODES, "^name: 'ocfs-2' is not a valid cluster name"),
        ("x" * 17, NODES, "^name: "),
        ("ocfs", [], "^nodes: must be a non-empty list"),
        ("ocfs", {"nfs1": {}}, "^nodes: must be a non-empty list"),
        ("ocfs", ["nfs1"], r"^nodes\[0\]: must be a dict"),
        ("ocfs", [{**NODES[0], "ip": "10.0.0.1"}], r"^nodes\[0\]: unknown keys \['ip'\]"),
        ("ocfs", [{**NODES[0], "name": "nfs 2"}], r"^nodes\[0\].name: "),
        ("ocfs", [{**NODES[0], "number": 255}], r"^nodes\[0\].number: "),
        ("ocfs", [{**NODES[0], "number": "1"}], r"^nodes\[0\].number: "),
        ("ocfs", [{**NODES[0], "address": "10.252.50.300"}], r"^nodes\[0\].address: "),
        ("ocfs", [{**NODES[0], "address": "fe80::1"}], r"^nodes\[0\].address: "),
        ("ocfs", [{**NODES[0], "port": 0}], r"^nodes\[0\].port: "),
        ("ocfs", [NODES[0], {**NODES[1], "number": 1}], "^nodes: duplicate number"),
        ("ocfs", [NODES[0], {**NODES[1], "name": "nfs2"}], "^nodes: duplicate name"),
        ("ocfs", [NODES[0], {**NODES[1], "address": "10.252.50.12"}], "^nodes: two nodes share"),
    ],
)
def test_render_cluster_conf_names_a_bad_argument(name, nodes, message):
    with pytest.raises(SaltInvocationError, match=message):
        ocfs2.render_cluster_conf(name, nodes)


def test_cluster_conf_parses_the_recorded_file(tmp_path):
    path = tmp_path / "cluster.conf"
    path.write_text(recorded("ocfs2/ocfs2-cluster.conf"))
    assert ocfs2.cluster_conf(str(path)) == PARSED


def test_cluster_conf_reads_what_o2cb_writes():
    # o2cb list-cluster prints nodes first and keys in its own order.
    text = transcript("ocfs2/ocfs2-o2cb-tools.txt", f"{LAB_O2CB} list-cluster ocfs")
    assert ocfs2._parse_cluster_conf(text.rsplit("rc=", 1)[0]) == PARSED


def test_cluster_conf_skips_comments_and_other_clusters_nodes():
    text = "# managed\ncluster:\n\tname = a\n\tnode_count = 1\n\nnode:\n\tcluster = b\n" + (
        "\tnumber = 0\n\tip_port = 7777\n\tip_address = 10.0.0.1\n\tname = x\n"
    )
    assert ocfs2._parse_cluster_conf(text)["nodes"] == []


def test_cluster_conf_is_none_without_a_file(tmp_path):
    assert ocfs2.cluster_conf(str(tmp_path / "cluster.conf")) is None


@pytest.mark.parametrize(
    "text, message",
    [
        ("cluster:\n\tname = ocfs\n\tnode_count\n", "line 3: cannot parse"),
        ("\tname = ocfs\n", "line 1: cannot parse"),
        ("node:\n\tname = a\n", "0 cluster stanzas"),
        ("cluster:\n\tname = a\n\tnode_count = 0\ncluster:\n\tname = b\n\tnode_count = 0\n", "2 cluster stanzas"),
        ("cluster:\n\tname = ocfs\n", "missing node_count"),
        ("cluster:\n\tname = ocfs\n\tnode_count = x\n", "node_count: 'x' is not a number"),
    ],
)
def test_cluster_conf_names_what_is_wrong(tmp_path, text, message):
    path = tmp_path / "cluster.conf"
    path.write_text(text)
    with pytest.raises(CommandExecutionError, match=f"{path}: .*{message}"):
        ocfs2.cluster_conf(str(path))


def test_write_cluster_conf_creates_the_file(tmp_path):
    path = tmp_path / "ocfs2" / "cluster.conf"
    changes = ocfs2.write_cluster_conf("ocfs", NODES, str(path))
    assert changes == {field: {"old": None, "new": value} for field, value in PARSED.items()}
    assert path.read_text() == recorded("ocfs2/ocfs2-cluster.conf")


def test_write_cluster_conf_a_second_time_changes_nothing(tmp_path):
    path = tmp_path / "cluster.conf"
    ocfs2.write_cluster_conf("ocfs", NODES, str(path))
    inode = path.stat().st_ino  # a rewrite renames a new file over it
    assert ocfs2.write_cluster_conf("ocfs", NODES, str(path)) == {}
    assert path.stat().st_ino == inode
    assert path.read_text() == recorded("ocfs2/ocfs2-cluster.conf")


def test_write_cluster_conf_names_the_changed_fields(tmp_path):
    path = tmp_path / "cluster.conf"
    path.write_text(recorded("ocfs2/ocfs2-cluster.conf"))
    moved = [NODES[0] | {"address": "10.252.50.13"}, NODES[1]]
    changes = ocfs2.write_cluster_conf("ocfs", moved, str(path))
    assert list(changes) == ["nodes"]
    assert changes["nodes"]["old"][1]["address"] == "10.252.50.12"
    assert changes["nodes"]["new"][1]["address"] == "10.252.50.13"
    assert "ip_address = 10.252.50.13" in path.read_text()


def test_write_cluster_conf_test_writes_nothing(tmp_path):
    path = tmp_path / "cluster.conf"
    assert ocfs2.write_cluster_conf("ocfs", NODES, str(path), test=True)
    assert not path.exists()


def test_write_cluster_conf_replaces_an_unreadable_file(tmp_path):
    path = tmp_path / "cluster.conf"
    path.write_text("garbage\n")
    assert ocfs2.write_cluster_conf("ocfs", NODES, str(path))["name"] == {"old": None, "new": "ocfs"}
    assert path.read_text() == recorded("ocfs2/ocfs2-cluster.conf")


def test_write_cluster_conf_checks_before_writing(tmp_path):
    path = tmp_path / "cluster.conf"
    with pytest.raises(SaltInvocationError):
        ocfs2.write_cluster_conf("ocfs", [{"name": "nfs1"}], str(path))
    assert not path.exists()


# /etc/default/o2cb

WANTED = {"O2CB_ENABLED": "true", "O2CB_BOOTCLUSTER": "ocfs"}


def test_o2cb_defaults_of_the_debian_file(tmp_path):
    path = tmp_path / "o2cb"
    path.write_text(recorded("ocfs2/o2cb-defaults-debian.txt"))
    assert ocfs2.o2cb_defaults(str(path)) == {
        "O2CB_ENABLED": "false",
        "O2CB_BOOTCLUSTER": "ocfs2",
        "O2CB_HEARTBEAT_THRESHOLD": "31",
        "O2CB_IDLE_TIMEOUT_MS": "30000",
        "O2CB_KEEPALIVE_DELAY_MS": "2000",
        "O2CB_RECONNECT_DELAY_MS": "2000",
    }


def test_o2cb_defaults_unquotes_and_is_empty_without_a_file(tmp_path):
    assert ocfs2.o2cb_defaults(str(tmp_path / "o2cb")) == {}
    assert ocfs2._parse_defaults('O2CB_BOOTCLUSTER="ocfs"\n') == {"O2CB_BOOTCLUSTER": "ocfs"}


def test_set_o2cb_defaults_keeps_every_other_line(tmp_path):
    path = tmp_path / "o2cb"
    original = recorded("ocfs2/o2cb-defaults-debian.txt")
    path.write_text(original)
    assert ocfs2.set_o2cb_defaults(WANTED, str(path)) == {
        "O2CB_ENABLED": {"old": "false", "new": "true"},
        "O2CB_BOOTCLUSTER": {"old": "ocfs2", "new": "ocfs"},
    }
    before, after = original.splitlines(), path.read_text().splitlines()
    assert [old for old, new in zip(before, after) if old != new] == [
        "O2CB_ENABLED=false",
        "O2CB_BOOTCLUSTER=ocfs2",
    ]
    assert "O2CB_ENABLED=true" in after and "O2CB_BOOTCLUSTER=ocfs" in after
    assert len(before) == len(after)
    assert ocfs2.set_o2cb_defaults(WANTED, str(path)) == {}


def test_set_o2cb_defaults_appends_missing_keys(tmp_path):
    path = tmp_path / "o2cb"
    path.write_text("# local\nO2CB_HEARTBEAT_THRESHOLD=61\n")
    ocfs2.set_o2cb_defaults(WANTED, str(path))
    assert path.read_text() == (
        "# local\nO2CB_HEARTBEAT_THRESHOLD=61\nO2CB_ENABLED=true\nO2CB_BOOTCLUSTER=ocfs\n"
    )


def test_set_o2cb_defaults_creates_a_missing_file_and_test_writes_nothing(tmp_path):
    path = tmp_path / "o2cb"
    assert ocfs2.set_o2cb_defaults(WANTED, str(path), test=True)["O2CB_ENABLED"]["old"] is None
    assert not path.exists()
    ocfs2.set_o2cb_defaults(WANTED, str(path))
    assert path.read_text() == "O2CB_ENABLED=true\nO2CB_BOOTCLUSTER=ocfs\n"


@pytest.mark.parametrize(
    "settings",
    [{}, ["O2CB_ENABLED"], {"o2cb_enabled": "true"}, {"O2CB_ENABLED": "$(reboot)"}, {"O2CB_ENABLED": True}],
)
def test_set_o2cb_defaults_refuses_what_a_shell_would_run(tmp_path, settings):
    with pytest.raises(SaltInvocationError, match="^settings: "):
        ocfs2.set_o2cb_defaults(settings, str(tmp_path / "o2cb"))
    assert not (tmp_path / "o2cb").exists()


# cluster_status and online

STATUS = ("o2cb", "--config-file=/etc/ocfs2/cluster.conf", "cluster-status", "ocfs")
REGISTER = ("o2cb", "--config-file=/etc/ocfs2/cluster.conf", "register-cluster", "ocfs")


def not_loaded(run):
    run.on(
        *STATUS, retcode=1,
        stdout=recorded("ocfs2/o2cb-cluster-status-notloaded.stdout"),
        stderr=recorded("ocfs2/o2cb-cluster-status-notloaded.stderr"),
    )


def test_cluster_status_without_the_kernel_stack(run):
    not_loaded(run)
    assert ocfs2.cluster_status("ocfs") == {"cluster": "ocfs", "online": False, "loaded": False}
    assert run.calls[0][1] == {"ignore_retcode": True, "timeout": 60}  # offline is no error to log


def test_cluster_status_from_the_lab_transcript():
    out = transcript("ocfs2/ocfs2-o2cb-tools.txt", f"{LAB_O2CB} cluster-status ocfs")
    stderr, stdout = out.splitlines()[:2]
    assert ocfs2._parse_status(stdout, stderr, "ocfs")["online"] is False


@pytest.mark.parametrize(
    "stdout, retcode, expected",
    [
        # The o2cb cluster-status messages of op_status.c: the kernel here
        # cannot bring a cluster online, so these are not recorded.
        ("Cluster 'ocfs' is online\n", 0, {"cluster": "ocfs", "online": True, "loaded": True}),
        ("Cluster 'ocfs' is offline\n", 1, {"cluster": "ocfs", "online": False, "loaded": True}),
        ("offline\n", 1, {"cluster": "ocfs", "online": False, "loaded": True}),
    ],
)
def test_cluster_status_with_the_stack_loaded(run, stdout, retcode, expected):
    run.on(*STATUS, stdout=stdout, retcode=retcode)
    assert ocfs2.cluster_status("ocfs") == expected


def test_cluster_status_without_a_name_reports_the_registered_cluster(run):
    run.on("o2cb", "--config-file=/etc/ocfs2/cluster.conf", "cluster-status", stdout="Cluster 'lab' is online\n")
    assert ocfs2.cluster_status()["cluster"] == "lab"


def test_cluster_status_carries_a_config_error(run):
    argv = ("o2cb", "--config-file=bad.conf", "cluster-status", "ocfs")
    run.on(*argv, retcode=1, stderr=recorded("ocfs2/o2cb-cluster-status-badconf.stderr"))
    with pytest.raises(CommandExecutionError, match="while loading cluster configuration file"):
        ocfs2.cluster_status("ocfs", config="bad.conf")


def test_online_starts_the_service_when_the_stack_is_not_loaded(run, salt_functions):
    not_loaded(run)
    run.on(*REGISTER)
    ocfs2.online("ocfs")
    salt_functions["service.start"].assert_called_once_with("o2cb")
    assert run.ran("o2cb")[1] == REGISTER


def test_online_only_registers_when_the_stack_is_loaded(run, salt_functions):
    run.on(*STATUS, stdout="Cluster 'ocfs' is online\n")
    run.on(*REGISTER)
    assert ocfs2.online("ocfs")["online"] is True
    salt_functions["service.start"].assert_not_called()
    assert REGISTER in run.ran("o2cb")


def test_online_fails_when_the_service_does_not_start(run, salt_functions):
    not_loaded(run)
    salt_functions["service.start"].return_value = False
    with pytest.raises(CommandExecutionError, match="o2cb service did not start"):
        ocfs2.online("ocfs")
    assert REGISTER not in run.ran("o2cb")


def test_online_carries_the_register_error(run):
    not_loaded(run)
    stderr = transcript("ocfs2/ocfs2-o2cb-tools.txt", f"{LAB_O2CB} register-cluster ocfs")
    stderr = stderr.split("\nrc=")[0]
    run.on(*REGISTER, stderr=stderr, retcode=1)
    with pytest.raises(CommandExecutionError, match="Unable to access cluster service"):
        ocfs2.online("ocfs")


# partition tables

WANTED_PARTS = [{"size": "64M"}, {"size": None}]
LSBLK = ("lsblk", "--json", "--list", "--output", "PATH,TYPE")


def test_partition_table_of_a_gpt_disk(run):
    disk(run, "/dev/loop0", sfdisk="sfdisk-gpt.json")
    table = ocfs2.partition_table("/dev/loop0")
    assert (table["label"], table["sector_size"]) == ("gpt", 512)
    assert table["partitions"][1] == {
        "node": "/dev/loop0p2",
        "start": 133120,
        "size": 389120,
        "type": "0FC63DAF-8483-4772-8E79-3D69D8477DE4",
    }


def test_partition_table_is_none_without_a_table(run):
    disk(run, "/dev/loop1", wipefs="wipefs-ext4.json")
    assert ocfs2.partition_table("/dev/loop1") is None
    assert run.calls[0][1] == {"ignore_retcode": True, "timeout": 60}  # no error logged for an answer


def test_partition_table_carries_other_errors(run):
    run.on("sfdisk", "--json", "/dev/nonexist", retcode=1, stderr=recorded("ocfs2/sfdisk-json-missing.stderr"))
    with pytest.raises(CommandExecutionError, match="cannot open /dev/nonexist"):
        ocfs2.partition_table("/dev/nonexist")


@pytest.mark.parametrize(
    "sfdisk, size, partitions, label, differences",
    [
        ("sfdisk-gpt.json", 256 * MIB, WANTED_PARTS, "gpt", []),
        ("sfdisk-gpt.json", 256 * MIB, [{"size": "64MiB"}, {"size": "190M"}], "gpt", []),
        ("sfdisk-dos.json", 128 * MIB, WANTED_PARTS, "dos", []),
        ("sfdisk-dos.json", 128 * MIB, WANTED_PARTS, "gpt", ["the table is dos, not gpt"]),
        ("sfdisk-gpt.json", 256 * MIB, [{"size": None}], "gpt", ["2 partitions, not 1"]),
        ("sfdisk-gpt.json", 256 * MIB, [{"size": "32M"}, {"size": None}], "gpt",
         ["partition 1 is 64 MiB, not 32 MiB"]),
        ("sfdisk-gpt.json", 256 * MIB, [{"size": "64MB"}, {"size": None}], "gpt",
         ["partition 1 is 64 MiB, not 61.04 MiB"]),
        ("sfdisk-dos.json", 1024 * MIB, WANTED_PARTS, "dos",
         ["partition 2 ends 896 MiB before the end of the disk"]),
    ],
)
def test_partition_differences(run, sfdisk, size, partitions, label, differences):
    disk(run, "/dev/loop0", sfdisk=sfdisk, size=size)
    assert ocfs2.partition_differences("/dev/loop0", partitions, label) == differences


def test_partition_differences_is_none_without_a_table(run):
    disk(run, "/dev/loop1")
    assert ocfs2.partition_differences("/dev/loop1", WANTED_PARTS) is None


@pytest.mark.parametrize(
    "partitions, label, message",
    [
        (WANTED_PARTS, "msdos", "^label: 'msdos'"),
        ([], "gpt", "^partitions: must be a non-empty list"),
        ({"size": "64M"}, "gpt", "^partitions: must be a non-empty list"),
        (["64M"], "gpt", r"^partitions\[0\]: must be"),
        ([{"size": "64M", "type": "83"}], "gpt", r"^partitions\[0\]: must be"),
        ([{"size": None}, {"size": "64M"}], "gpt", r"^partitions\[0\].size: only the last"),
        ([{"size": "64X"}], "gpt", r"^partitions\[0\].size: '64X' is not a size"),
        ([{"size": "131072"}], "gpt", r"^partitions\[0\].size: '131072' is not a size"),
        ([{"size": 64}], "gpt", r"^partitions\[0\].size: 64 is not a size"),
        ([{"size": "0M"}], "gpt", r"^partitions\[0\].size: '0M' is empty"),
        ([{"size": "64M,type=83"}], "gpt", r"^partitions\[0\].size: "),
    ],
)
def test_partition_arguments_are_named_before_anything_runs(run, partitions, label, message):
    with pytest.raises(SaltInvocationError, match=message):
        ocfs2.partition("/dev/loop1", partitions, label)
    with pytest.raises(SaltInvocationError, match=message):
        ocfs2.partition_differences("/dev/loop1", partitions, label)
    assert not run.calls


@pytest.mark.parametrize(
    "size, expected",
    [
        ("64M", 64 * MIB),
        ("64MiB", 64 * MIB),
        ("64m", 64 * MIB),
        ("64MB", 64_000_000),
        ("1G", 1024 * MIB),
        ("512K", 512 * 1024),
    ],
)
def test_sizes_follow_sfdisk(size, expected):
    assert ocfs2._partition_sizes([{"size": size}], "gpt") == [expected]


def written(run, device="/dev/loop1", sfdisk="sfdisk-dos.json", lsblk="lsblk-dos.json"):
    """sfdisk writes: from then on the disk answers with the new table."""

    def answer(argv, python_shell=None, **kwargs):
        result = Commands.__call__(run, argv, python_shell, **kwargs)
        if argv[0] == "sfdisk" and "--json" not in argv:
            run.on("sfdisk", "--json", device, stdout=recorded(f"ocfs2/{sfdisk}"))
            run.on(*LSBLK, device, stdout=recorded(f"ocfs2/{lsblk}"))
        return result

    run.on("sfdisk", "--quiet", device)
    run.on("blockdev", "--flushbufs", device)
    run.on("partx", "--update", device)
    run.on("udevadm", "settle", "--timeout=10")
    return answer


def test_partition_writes_rereads_and_checks_the_table(run):
    disk(run, "/dev/loop1", size=128 * MIB)
    with patch.dict(ocfs2.__salt__, {"cmd.run_all": written(run)}):
        with patch("salt.utils.path.which", lambda tool: f"/usr/bin/{tool}"):
            table = ocfs2.partition("/dev/loop1", WANTED_PARTS, "dos")
    assert [part["node"] for part in table["partitions"]] == ["/dev/loop1p1", "/dev/loop1p2"]
    writes = [(argv, kwargs) for argv, kwargs in run.calls if argv == ("sfdisk", "--quiet", "/dev/loop1")]
    assert writes[0][1]["stdin"] == "label: dos\nsize=64M, type=L\ntype=L\n"
    programs = [argv[:2] for argv, _ in run.calls if argv[0] in ("blockdev", "wipefs", "sfdisk", "partx")]
    # The disk read before writing (cache dropped), and again after.
    assert programs[:6] == [
        ("blockdev", "--flushbufs"),
        ("wipefs", "--no-act"),
        ("blockdev", "--getsize64"),
        ("sfdisk", "--quiet"),
        ("blockdev", "--flushbufs"),
        ("sfdisk", "--json"),
    ]
    assert ("partx", "--update") in programs


@pytest.mark.parametrize(
    "wipefs, found",
    [
        ("wipefs-ext4.json", "holds an ext4 file system labelled 'data'"),
        ("wipefs-gpt.json", "holds a gpt partition table"),
    ],
)
def test_partition_refuses_a_disk_that_holds_something(run, wipefs, found):
    disk(run, "/dev/loop1", wipefs=wipefs)
    with pytest.raises(CommandExecutionError, match=f"{found}; refusing to partition it"):
        ocfs2.partition("/dev/loop1", WANTED_PARTS)
    assert not [argv for argv in run.ran("sfdisk") if "--json" not in argv]


def test_partition_test_checks_and_writes_nothing(run):
    disk(run, "/dev/loop1")
    assert ocfs2.partition("/dev/loop1", WANTED_PARTS, test=True) == {
        "label": "gpt",
        "partitions": WANTED_PARTS,
    }
    assert run.ran("wipefs") and not run.ran("sfdisk")
    assert ("blockdev", "--flushbufs", "/dev/loop1") not in run.ran("blockdev")


def test_partition_refuses_sizes_that_do_not_fit(run):
    # sfdisk would silently shrink the last partition (measured: 200M on a
    # 128 MiB disk became 125 MiB).
    disk(run, "/dev/loop1", size=128 * MIB)
    with pytest.raises(CommandExecutionError, match="has 128 MiB; the partitions need at least 202 MiB"):
        ocfs2.partition("/dev/loop1", [{"size": "200M"}])
    assert not run.ran("sfdisk")


def test_partition_force_wipes_without_looking(run):
    run.on("blockdev", "--getsize64", "/dev/loop1", stdout=str(128 * MIB))
    answer = written(run)
    run.on("sfdisk", "--quiet", "--wipe", "always", "--wipe-partitions", "always", "/dev/loop1")
    with patch.dict(ocfs2.__salt__, {"cmd.run_all": answer}):
        with patch("salt.utils.path.which", lambda tool: None):
            ocfs2.partition("/dev/loop1", WANTED_PARTS, "dos", force=True)
    assert not run.ran("wipefs") and not run.ran("udevadm")
    assert ("sfdisk", "--quiet", "--wipe", "always", "--wipe-partitions", "always", "/dev/loop1") in run.ran("sfdisk")


def test_partition_carries_the_sfdisk_error(run):
    disk(run, "/dev/loop1")
    run.on("sfdisk", "--quiet", "/dev/loop1", retcode=1, stderr="sfdisk: line 2: unsupported command\n")
    with pytest.raises(CommandExecutionError, match="unsupported command"):
        ocfs2.partition("/dev/loop1", WANTED_PARTS)


def test_partition_fails_when_sfdisk_wrote_something_else(run):
    disk(run, "/dev/loop1", size=128 * MIB)
    with patch.dict(ocfs2.__salt__, {"cmd.run_all": written(run)}):
        with patch("salt.utils.path.which", lambda tool: f"/usr/bin/{tool}"):
            with pytest.raises(CommandExecutionError) as error:
                ocfs2.partition("/dev/loop1", [{"size": "32M"}, {"size": None}], "dos")
    assert str(error.value) == (
        "sfdisk wrote a different table on /dev/loop1: partition 1 is 64 MiB, not 32 MiB"
    )


def test_visible_partitions(run):
    run.on(*LSBLK, "/dev/loop0", stdout=recorded("ocfs2/lsblk-gpt.json"))
    run.on(*LSBLK, "/dev/loop1", stdout=recorded("ocfs2/lsblk-none.json"))
    assert ocfs2.visible_partitions("/dev/loop0") == ["/dev/loop0p1", "/dev/loop0p2"]
    assert ocfs2.visible_partitions("/dev/loop1") == []


def test_reread_partitions_flushes_before_reading_the_table(run):
    disk(run, "/dev/loop0", sfdisk="sfdisk-gpt.json")
    run.on("blockdev", "--flushbufs", "/dev/loop0")
    run.on("partx", "--update", "/dev/loop0")
    run.on("udevadm", "settle", "--timeout=30")
    run.on(*LSBLK, "/dev/loop0", stdout=recorded("ocfs2/lsblk-gpt.json"))
    with patch("salt.utils.path.which", lambda tool: f"/usr/bin/{tool}"):
        assert ocfs2.reread_partitions("/dev/loop0", timeout=30) == ["/dev/loop0p1", "/dev/loop0p2"]
    programs = [argv[0] for argv, _ in run.calls]
    assert programs == ["blockdev", "sfdisk", "partx", "udevadm", "lsblk"]


def test_reread_partitions_fails_when_the_kernel_disagrees(run):
    disk(run, "/dev/loop0", sfdisk="sfdisk-gpt.json")
    run.on("blockdev", "--flushbufs", "/dev/loop0")
    run.on("partx", "--update", "/dev/loop0")
    run.on(*LSBLK, "/dev/loop0", stdout=recorded("ocfs2/lsblk-none.json"))
    with patch("salt.utils.path.which", lambda tool: None):
        with pytest.raises(CommandExecutionError, match=r"kernel shows partitions \[\] but the table has"):
            ocfs2.reread_partitions("/dev/loop0")


def test_reread_partitions_without_a_table_skips_partx(run):
    disk(run, "/dev/loop1")
    run.on("blockdev", "--flushbufs", "/dev/loop1")
    run.on(*LSBLK, "/dev/loop1", stdout=recorded("ocfs2/lsblk-none.json"))
    with patch("salt.utils.path.which", lambda tool: None):
        assert ocfs2.reread_partitions("/dev/loop1") == []
    assert not run.ran("partx")


# bounded calls


def test_probes_are_bounded_at_60_s_and_mkfs_at_600_s(run):
    # blockdev --flushbufs drops the cache right before the disk is read.
    disk(run, "/dev/loop0p2")
    run.on(*MKFS_NFSDATA)
    with patch.object(ocfs2, "info", MagicMock(return_value={})):
        ocfs2.mkfs("/dev/loop0p2", "nfsdata", cluster_name="ocfs")
    assert [(argv[0], kwargs["timeout"]) for argv, kwargs in run.calls] == [
        ("blockdev", 60), ("wipefs", 60), ("mkfs.ocfs2", 600),
    ]
    run.calls.clear()
    with patch.object(ocfs2, "info", MagicMock(return_value={})):
        ocfs2.mkfs("/dev/loop0p2", "nfsdata", cluster_name="ocfs", call_timeout=5, mkfs_timeout=3600)
    assert [(argv[0], kwargs["timeout"]) for argv, kwargs in run.calls] == [
        ("blockdev", 5), ("wipefs", 5), ("mkfs.ocfs2", 3600),
    ]


def test_udev_settle_is_bounded_beyond_its_own_wait(run):
    disk(run, "/dev/loop0", sfdisk="sfdisk-gpt.json")
    run.on("blockdev", "--flushbufs", "/dev/loop0")
    run.on("partx", "--update", "/dev/loop0")
    run.on("udevadm", "settle", "--timeout=30")
    run.on(*LSBLK, "/dev/loop0", stdout=recorded("ocfs2/lsblk-gpt.json"))
    with patch("salt.utils.path.which", lambda tool: f"/usr/bin/{tool}"):
        ocfs2.reread_partitions("/dev/loop0", timeout=30, call_timeout=5)
    assert [(argv[0], kwargs["timeout"]) for argv, kwargs in run.calls] == [
        ("blockdev", 5), ("sfdisk", 5), ("partx", 5), ("udevadm", 35), ("lsblk", 5),
    ]


@pytest.mark.parametrize(
    "argv, call, message",
    [
        ((*WIPEFS, "/dev/loop1"), lambda: ocfs2.signatures("/dev/loop1"),
         "wipefs /dev/loop1 did not answer within 60 s (hung disk?)"),
        (("sfdisk", "--json", "/dev/loop1"), lambda: ocfs2.partition_table("/dev/loop1"),
         "sfdisk /dev/loop1 did not answer within 60 s (hung disk?)"),
        (("mounted.ocfs2", "-f", "/dev/loop1"), lambda: ocfs2.mounted_nodes("/dev/loop1"),
         "mounted.ocfs2 /dev/loop1 did not answer within 60 s (hung disk?)"),
        (REGISTER, lambda: ocfs2.online("ocfs"),
         "o2cb register-cluster did not answer within 60 s (hung o2cb?)"),
    ],
)
def test_a_program_that_does_not_answer_is_named_with_its_bound(run, argv, call, message):
    run.on(*STATUS, stdout="Cluster 'ocfs' is online\n")
    run.answers[tuple(argv)] = timed_out(list(argv), 60)
    with pytest.raises(CommandExecutionError) as error:
        call()
    assert str(error.value) == message


def test_a_mkfs_that_does_not_finish_is_named_with_its_bound(run):
    disk(run, "/dev/loop0p2")
    run.answers[MKFS_NFSDATA] = timed_out(list(MKFS_NFSDATA), 600)
    with pytest.raises(CommandExecutionError) as error:
        ocfs2.mkfs("/dev/loop0p2", "nfsdata", cluster_name="ocfs")
    assert str(error.value) == (
        "mkfs.ocfs2 /dev/loop0p2 did not answer within 600 s (hung disk, or a LUN too big for this bound?)"
    )


@pytest.mark.parametrize("kwargs, argument", [
    ({"call_timeout": 0}, "call_timeout: 0"),
    ({"mkfs_timeout": -1}, "mkfs_timeout: -1"),
    ({"mkfs_timeout": "1h"}, "mkfs_timeout: '1h'"),
])
def test_a_bound_that_is_none_is_refused_before_anything_runs(run, kwargs, argument):
    disk(run, "/dev/loop0p2")
    with pytest.raises(SaltInvocationError, match=f"^{argument} is not a number of seconds above 0$"):
        ocfs2.mkfs("/dev/loop0p2", "nfsdata", cluster_name="ocfs", **kwargs)
    assert run.calls == []
