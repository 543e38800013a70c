"""
The ocfs2 modules through Salt's loader against the real tools (sfdisk, partx,
wipefs, mkfs.ocfs2, debugfs.ocfs2, tunefs.ocfs2, mounted.ocfs2, o2cb) on loop
devices over sparse files. Each test gets its own loop device and detaches it.
Two minions share this machine: the format node and the other server, each
with its own grains file (where the file systems' UUIDs are recorded).

This kernel has no ocfs2/configfs: nothing is mounted and the o2cb cluster
never comes online here (the VM lab covers that).
"""
import hashlib
import json
import os
import pathlib
import shutil
import subprocess
import sys
import uuid

import pytest
import salt.config
import salt.loader
import yaml

from tests.conftest import ROOT, recorded

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="loop devices need root")

MIB = 1024 * 1024
TOOLS = {
    "losetup": "mount",
    "sfdisk": "fdisk",
    "partx": "util-linux",
    "wipefs": "util-linux",
    "lsblk": "util-linux",
    "blockdev": "util-linux",
    "blkid": "util-linux",
    "mkfs.ext4": "e2fsprogs",
    "debugfs": "e2fsprogs",
    "mkfs.ocfs2": "ocfs2-tools",
    "debugfs.ocfs2": "ocfs2-tools",
    "tunefs.ocfs2": "ocfs2-tools",
    "mounted.ocfs2": "ocfs2-tools",
    "o2cb": "ocfs2-tools",
    # libo2cb runs it by this path: without it mkfs.ocfs2 runs several times.
    "/sbin/modprobe": "kmod",
}
WANTED = [{"size": "64M"}, {"size": None}]


@pytest.fixture(scope="module", autouse=True)
def tools():
    missing = [
        f"{tool} (package {package})"
        for tool, package in TOOLS.items()
        if not (os.path.exists(tool) if tool.startswith("/") else shutil.which(tool))
    ]
    if missing:
        pytest.fail(f"missing programs, install their packages: {', '.join(missing)}")


class Minion:
    """
    The project's modules loaded by Salt's own loader, as on a minion whose
    config (and so grains file) lives in ``root``. A new Minion on the same
    root is that minion restarted: it reads its grains again.
    """

    def __init__(self, root):
        (root / "cache").mkdir(exist_ok=True)
        opts = salt.config.minion_config(None)
        opts.update(
            root_dir=str(root),
            cachedir=str(root / "cache"),
            # grains.setval writes the grains file next to it, not /etc/salt.
            conf_file=str(root / "minion"),
            extension_modules=str(root / "extmods"),
            file_client="local",
            local=True,
            module_dirs=[str(ROOT / "_modules")],
            states_dirs=[str(ROOT / "_states")],
            utils_dirs=[str(ROOT / "_utils")],
        )
        # Loaders in one process share their modules unless named apart:
        # without this, one minion's grains.setval wrote the other's file.
        base = f"salt.loaded.nfsha{uuid.uuid4().hex}"
        opts["grains"] = salt.loader.grains(opts, loaded_base_name=base)
        self.grains_file = root / "grains"
        utils = salt.loader.utils(opts, loaded_base_name=base)
        serializers = salt.loader.serializers(opts, loaded_base_name=base)
        self.run = salt.loader.minion_mods(opts, utils=utils, loaded_base_name=base)
        self._states = {
            test: salt.loader.states(
                dict(opts, test=test), self.run, utils, serializers, loaded_base_name=f"{base}{test}"
            )
            for test in (False, True)
        }

    def state(self, function, *args, test=False, **kwargs):
        return self._states[test][f"ocfs2.{function}"](*args, **kwargs)

    def records(self):
        """The UUIDs recorded in the grains file, as a restarted minion reads them."""
        if not self.grains_file.exists():
            return None
        return (yaml.safe_load(self.grains_file.read_text()) or {}).get("ocfs2_uuids")


@pytest.fixture(scope="module")
def minion(tmp_path_factory):
    """The format node."""
    minion = Minion(tmp_path_factory.mktemp("nfsha-ocfs2-salt"))
    assert "ocfs2.info" in minion.run, "the ocfs2 execution module did not load"
    return minion


@pytest.fixture(scope="module")
def other(tmp_path_factory):
    """The other server: it mounts what the format node made."""
    return Minion(tmp_path_factory.mktemp("nfsha-ocfs2-other"))


@pytest.fixture(autouse=True)
def no_records(minion, other):
    """Each test starts with nothing recorded: what an operator runs to forget."""
    for node in (minion, other):
        node.run["grains.delkey"]("ocfs2_uuids", force=True)
        assert node.run["ocfs2.recorded_uuid"]("nfsmeta") is None


@pytest.fixture
def loop(tmp_path):
    """A 128 MiB loop device with partition scanning, over a sparse file."""
    image = tmp_path / "nfsha-ocfs2.img"
    with open(image, "wb") as handle:
        handle.truncate(128 * MIB)
    device = sh("losetup", "--find", "--show", "--partscan", str(image)).strip()
    try:
        yield device
    finally:
        subprocess.run(["losetup", "--detach", device], check=True)
        image.unlink()


def sh(*argv, stdin=None):
    return subprocess.run(argv, input=stdin, check=True, capture_output=True, text=True).stdout


def digest(device):
    with open(device, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def blkid(device):
    return sh("blkid", "-p", "-o", "export", device)


def fs_uuid(device):
    """The UUID as blkid and tunefs.ocfs2 read it back (they must agree)."""
    found = dict(line.split("=", 1) for line in blkid(device).splitlines())["UUID"]
    label, tunefs_uuid, slots = sh("tunefs.ocfs2", "-Q", "%V %U %N", device).split()
    assert str(uuid.UUID(tunefs_uuid)) == found
    return found


def made_by_another_cluster(device, label, cluster_name="ocfs"):
    """What another cluster with the same (default) names leaves on a LUN."""
    sh("mkfs.ocfs2", "-q", "-F", "-x", "-N", "2", "-L", label,
       "--cluster-stack=o2cb", f"--cluster-name={cluster_name}", device)
    return fs_uuid(device)


def write_table(device, script):
    """A table written by hand (by "the other node"): the kernel does not see it."""
    sh("sfdisk", "--quiet", device, stdin=script)
    subprocess.run(["partx", "--delete", device], capture_output=True)
    assert sh("lsblk", "--noheadings", "--list", "--output", "TYPE", device).split() == ["loop"]


def ext4_with_a_file(device, tmp_path):
    content = tmp_path / "content"
    content.mkdir()
    (content / "keep.txt").write_text("data that must survive\n")
    sh("mkfs.ext4", "-q", "-L", "keep", "-d", str(content), device)


# ocfs2.partitioned


def test_partitioned_writes_the_table_on_an_empty_disk_once(minion, loop):
    empty = digest(loop)
    ret = minion.state("partitioned", loop, WANTED, test=True)
    assert ret["result"] is None
    assert ret["changes"] == {"partition_table": {"old": None, "new": {"label": "gpt", "partitions": WANTED}}}
    assert digest(loop) == empty

    ret = minion.state("partitioned", loop, WANTED)
    assert ret["result"] is True, ret["comment"]
    written = ret["changes"]["partition_table"]["new"]
    assert written["label"] == "gpt"
    assert [part["node"] for part in written["partitions"]] == [f"{loop}p1", f"{loop}p2"]
    assert written["partitions"][0]["size"] == 64 * MIB // 512
    # partx ran: the kernel shows both partitions.
    assert minion.run["ocfs2.visible_partitions"](loop) == [f"{loop}p1", f"{loop}p2"]

    again = minion.state("partitioned", loop, WANTED)
    assert again == {
        "name": loop,
        "changes": {},
        "result": True,
        "comment": f"{loop} has the wanted gpt partition table",
    }


def test_partitioned_refuses_a_disk_with_ext4_and_leaves_it_intact(minion, loop, tmp_path):
    ext4_with_a_file(loop, tmp_path)
    before, identity = digest(loop), blkid(loop)
    for test in (True, False):
        ret = minion.state("partitioned", loop, WANTED, test=test)
        assert ret["result"] is False and ret["changes"] == {}
        assert ret["comment"] == f"{loop} holds an ext4 file system labelled 'keep'; refusing to partition it"
    assert digest(loop) == before and blkid(loop) == identity
    assert sh("debugfs", "-R", "cat /keep.txt", loop) == "data that must survive\n"


@pytest.mark.parametrize(
    "label, partitions, difference",
    [
        ("gpt", WANTED, "the table is dos, not gpt"),
        ("dos", WANTED, "partition 1 is 32 MiB, not 64 MiB"),
        ("dos", [{"size": "32M"}], "2 partitions, not 1"),
    ],
)
def test_partitioned_refuses_a_different_table(minion, loop, label, partitions, difference):
    write_table(loop, "label: dos\nsize=32MiB, type=L\ntype=L\n")
    before, table = digest(loop), sh("sfdisk", "--json", loop)
    ret = minion.state("partitioned", loop, partitions, label=label)
    assert ret["result"] is False and ret["changes"] == {}
    assert difference in ret["comment"] and ret["comment"].endswith("refusing to change it")
    assert digest(loop) == before and sh("sfdisk", "--json", loop) == table


def test_partitioned_refuses_sizes_larger_than_the_disk(minion, loop):
    ret = minion.state("partitioned", loop, [{"size": "200M"}])
    assert ret["result"] is False
    assert ret["comment"] == f"{loop} has 128 MiB; the partitions need at least 202 MiB"
    assert minion.run["ocfs2.signatures"](loop) == []


# ocfs2.partitions_visible: the node that did not write the table


def test_partitions_visible_rereads_a_table_another_node_wrote(minion, loop):
    write_table(loop, "label: gpt\nsize=64MiB, type=L\ntype=L\n")
    ret = minion.state("partitions_visible", loop, 2, test=True)
    assert ret["result"] is None
    assert ret["changes"] == {"partitions": {"old": [], "new": [f"{loop}p1", f"{loop}p2"]}}
    assert minion.run["ocfs2.visible_partitions"](loop) == []

    ret = minion.state("partitions_visible", loop, 2)
    assert ret["result"] is True, ret["comment"]
    assert ret["changes"] == {"partitions": {"old": [], "new": [f"{loop}p1", f"{loop}p2"]}}
    assert os.path.exists(f"{loop}p2")

    assert minion.state("partitions_visible", loop, 2)["changes"] == {}
    assert minion.state("partitions_visible", loop, 3)["result"] is False


# ocfs2.formatted


@pytest.fixture
def partitions(minion, loop):
    assert minion.state("partitioned", loop, WANTED)["result"] is True
    return f"{loop}p1", f"{loop}p2"


def test_formatted_makes_ocfs2_on_an_empty_partition_once(minion, partitions):
    meta, _ = partitions
    ret = minion.state("formatted", meta, "nfsmeta", cluster_name="ocfs", test=True)
    assert ret["result"] is None
    assert ret["changes"]["label"] == {"old": None, "new": "nfsmeta"}
    assert minion.run["ocfs2.signatures"](meta) == []

    ret = minion.state("formatted", meta, "nfsmeta", cluster_name="ocfs")
    assert ret["result"] is True, ret["comment"]
    assert ret["changes"]["label"] == {"old": None, "new": "nfsmeta"}
    made = minion.run["ocfs2.info"](meta)
    assert (made["label"], made["cluster_name"], made["cluster_stack"], made["slots"]) == (
        "nfsmeta",
        "ocfs",
        "o2cb",
        2,
    )
    assert 'LABEL=nfsmeta\n' in blkid(meta) and "TYPE=ocfs2\n" in blkid(meta)
    assert minion.run["ocfs2.mounted_nodes"](meta) == []
    # Known by the UUID it was made with, from then on: in the grains file,
    # and as the device fstab names.
    made_uuid = fs_uuid(meta)
    assert ret["changes"]["uuid"] == {"old": None, "new": made_uuid}
    assert minion.records() == {"nfsmeta": made_uuid}
    assert minion.run["ocfs2.mount_device"](meta, "nfsmeta") == f"UUID={made_uuid}"

    again = minion.state("formatted", meta, "nfsmeta", cluster_name="ocfs")
    assert again["result"] is True and again["changes"] == {}
    assert again["comment"] == f"{meta} holds OCFS2 'nfsmeta' of cluster 'ocfs', UUID {made_uuid} as recorded"


def test_the_record_outlives_a_minion_restart(minion, partitions):
    meta, _ = partitions
    assert minion.state("formatted", meta, "nfsmeta", cluster_name="ocfs")["result"] is True
    restarted = Minion(minion.grains_file.parent)
    assert restarted.run["ocfs2.recorded_uuid"]("nfsmeta") == fs_uuid(meta)
    again = restarted.state("formatted", meta, "nfsmeta", cluster_name="ocfs")
    assert (again["result"], again["changes"]) == (True, {})


def test_the_same_names_with_another_uuid_are_refused_on_both_servers(minion, other, partitions):
    meta, _ = partitions
    assert minion.state("formatted", meta, "nfsmeta", cluster_name="ocfs")["result"] is True
    ours = fs_uuid(meta)
    # The other server records what it first finds there: the same UUID.
    first = other.state("identified", meta, "nfsmeta", cluster_name="ocfs")
    assert first["result"] is True and first["changes"] == {"uuid": {"old": None, "new": ours}}
    again = other.state("identified", meta, "nfsmeta", cluster_name="ocfs")
    assert (again["result"], again["changes"]) == (True, {})

    # The device now holds another cluster's file system with the same names.
    theirs = made_by_another_cluster(meta, "nfsmeta")
    assert theirs != ours
    before = digest(meta)
    for node, state in ((minion, "formatted"), (other, "identified")):
        for test in (True, False):
            ret = node.state(state, meta, "nfsmeta", cluster_name="ocfs", test=test)
            assert ret["result"] is False and ret["changes"] == {}, ret
            assert ret["comment"].startswith(
                f"{meta} holds OCFS2 'nfsmeta' of cluster 'ocfs' with UUID {theirs}, but this node"
                f" recorded UUID {ours} for 'nfsmeta' (grain ocfs2_uuids)"
            )
            assert "grains.delkey ocfs2_uuids force=True" in ret["comment"]
        assert node.records() == {"nfsmeta": ours}
        assert node.run["ocfs2.mount_device"](meta, "nfsmeta") == f"UUID={ours}"
    assert digest(meta) == before

    # The operator replaced the LUN on purpose: forgetting the record on
    # both servers lets the next run take the new file system.
    for node, state in ((minion, "formatted"), (other, "identified")):
        node.run["grains.delkey"]("ocfs2_uuids", force=True)
        ret = node.state(state, meta, "nfsmeta", cluster_name="ocfs")
        assert ret["result"] is True and ret["changes"] == {"uuid": {"old": None, "new": theirs}}
        assert node.records() == {"nfsmeta": theirs}
    assert digest(meta) == before


def test_a_wiped_lun_is_neither_formatted_nor_used(minion, other, partitions):
    meta, _ = partitions
    assert minion.state("formatted", meta, "nfsmeta", cluster_name="ocfs")["result"] is True
    assert other.state("identified", meta, "nfsmeta", cluster_name="ocfs")["result"] is True
    recorded = fs_uuid(meta)
    sh("wipefs", "--all", "--quiet", meta)
    for node, state in ((minion, "formatted"), (other, "identified")):
        ret = node.state(state, meta, "nfsmeta", cluster_name="ocfs")
        assert ret["result"] is False and ret["changes"] == {}
        assert ret["comment"].startswith(
            f"{meta} holds no OCFS2 file system, but this node recorded 'nfsmeta' with UUID {recorded}"
        )
    assert minion.run["ocfs2.signatures"](meta) == []


def test_identified_never_formats(other, partitions):
    meta, _ = partitions
    ret = other.state("identified", meta, "nfsmeta", cluster_name="ocfs")
    assert ret["result"] is False and "has not made 'nfsmeta' yet" in ret["comment"]
    assert other.run["ocfs2.signatures"](meta) == []
    assert other.records() is None


@pytest.fixture
def shared(tmp_path):
    """
    One disk seen by two nodes: two loop devices over the same file, each
    with its own page cache, as two initiators have. Something (udev, a
    monitoring agent) holds this node's device open, so its cache stays.
    """
    image = tmp_path / "nfsha-ocfs2-shared.img"
    with open(image, "wb") as handle:
        handle.truncate(128 * MIB)
    here = sh("losetup", "--find", "--show", str(image)).strip()
    try:
        there = sh("losetup", "--find", "--show", str(image)).strip()
        try:
            holder = os.open(here, os.O_RDONLY)
            try:
                yield here, there
            finally:
                os.close(holder)
        finally:
            subprocess.run(["losetup", "--detach", there], check=True)
    finally:
        subprocess.run(["losetup", "--detach", here], check=True)


@pytest.mark.parametrize(
    "make, found",
    [
        (lambda device: sh("mkfs.ext4", "-q", "-L", "keep", device), "an ext4 file system labelled 'keep'"),
        (lambda device: made_by_another_cluster(device, "nfsdata"), "an ocfs2 file system labelled 'nfsdata'"),
    ],
)
def test_formatted_reads_the_disk_again_right_before_mkfs(minion, shared, make, found):
    here, there = shared
    assert minion.run["ocfs2.signatures"](here) == []
    make(there)
    written = digest(there)
    # This node's cached view still shows the disk empty...
    assert minion.run["ocfs2.signatures"](here) == []
    # ...so the state decides to format, and mkfs sees the disk itself.
    ret = minion.state("formatted", here, "nfsdata", cluster_name="ocfs")
    assert ret["result"] is False and ret["changes"] == {}
    assert ret["comment"] == f"{here} holds {found}; refusing to format it"
    assert digest(there) == written
    assert minion.records() in (None, {})


def test_formatted_fails_naming_mkfs_when_it_outlasts_its_bound(minion, partitions):
    # mkfs.ocfs2 took 0.07-0.13 s on a device of this size (10 MiB
    # written): a bound of 0.01 s kills it, through Salt's real cmd.run_all.
    _, data = partitions
    ret = minion.state("formatted", data, "nfsdata", cluster_name="ocfs", mkfs_timeout=0.01)
    assert ret == {
        "name": data,
        "changes": {},
        "result": False,
        "comment": f"mkfs.ocfs2 {data} did not answer within 0.01 s"
        " (hung disk, or a LUN too big for this bound?)",
    }


def test_formatted_refuses_ocfs2_with_another_label(minion, partitions):
    meta, _ = partitions
    assert minion.state("formatted", meta, "nfsmeta", cluster_name="ocfs")["result"] is True
    before = digest(meta)
    ret = minion.state("formatted", meta, "nfsdata", cluster_name="ocfs")
    assert ret["result"] is False and ret["changes"] == {}
    assert ret["comment"] == (
        f"{meta} holds OCFS2 'nfsmeta' of cluster 'ocfs', not 'nfsdata' of cluster 'ocfs';"
        " refusing to format it"
    )
    assert digest(meta) == before


def test_formatted_refuses_an_ext4_partition_and_leaves_it_intact(minion, partitions, tmp_path):
    _, data = partitions
    ext4_with_a_file(data, tmp_path)
    before = digest(data)
    for test in (True, False):
        ret = minion.state("formatted", data, "nfsdata", cluster_name="ocfs", test=test)
        assert ret["result"] is False and ret["changes"] == {}
        assert ret["comment"] == f"{data} holds an ext4 file system labelled 'keep'; refusing to format it"
    assert digest(data) == before
    assert sh("debugfs", "-R", "cat /keep.txt", data) == "data that must survive\n"


def test_formatted_refuses_the_partitioned_disk_itself(minion, loop, partitions):
    before = digest(loop)
    ret = minion.state("formatted", loop, "nfsdata")
    assert ret["result"] is False
    assert ret["comment"] == f"{loop} holds a gpt partition table; refusing to format it"
    assert digest(loop) == before


# ocfs2.cluster: files and o2cb, without a cluster stack in this kernel


NODES = [
    {"name": "nfs1", "number": 0, "address": "10.252.50.11"},
    {"name": "nfs2", "number": 1, "address": "10.252.50.12", "port": 7777},
]


def test_o2cb_reads_the_cluster_conf_as_written(minion, tmp_path):
    config = tmp_path / "cluster.conf"
    assert minion.run["ocfs2.write_cluster_conf"]("ocfs", NODES, str(config))
    listed = tmp_path / "listed.conf"
    listed.write_text(sh("o2cb", f"--config-file={config}", "list-cluster", "ocfs"))
    assert minion.run["ocfs2.cluster_conf"](str(listed)) == minion.run["ocfs2.cluster_conf"](str(config))
    status = minion.run["ocfs2.cluster_status"]("ocfs", str(config))
    assert status == {"cluster": "ocfs", "online": False, "loaded": False}


def test_cluster_test_reports_every_change_and_writes_nothing(minion, tmp_path):
    config, defaults = tmp_path / "cluster.conf", tmp_path / "o2cb"
    defaults.write_text(recorded("ocfs2/o2cb-defaults-debian.txt"))
    before = defaults.read_text()
    ret = minion.state("cluster", "ocfs", NODES, config=str(config), defaults=str(defaults), test=True)
    assert ret["result"] is None
    assert set(ret["changes"]) == {str(config), str(defaults), "online"}
    assert ret["changes"][str(defaults)]["O2CB_ENABLED"]["new"] == "true"
    assert "the o2cb kernel stack is not loaded" in ret["comment"]
    assert not config.exists() and defaults.read_text() == before


# The mount by UUID (formula/nfsha/ocfs2/mounts.sls), through Salt's state
# engine: the slot, mount.mounted and the fstab line. ext4 stands in for
# OCFS2, which this kernel cannot mount; mount.mounted treats both alike.

SALT_CALL = pathlib.Path(sys.executable).with_name("salt-call")
MOUNT_SLS = """
mounted:
  mount.mounted:
    - name: {{ pillar.mount_point }}
    - device: __slot__:salt:ocfs2.mount_device({{ pillar.device | json }}, "nfsstate")
    - fstype: ext4
    - opts: [noatime]
    - mkmnt: True
    - persist: True
    - config: {{ pillar.fstab }}
    - match_on: name
"""


@pytest.fixture
def salt_call(tmp_path):
    """``salt-call --local`` with a private config (its grains file too)."""
    (tmp_path / "srv").mkdir()
    (tmp_path / "srv" / "mounted.sls").write_text(MOUNT_SLS)
    (tmp_path / "minion").write_text(json.dumps({
        "root_dir": str(tmp_path / "root"),
        "file_client": "local",
        "file_roots": {"base": [str(tmp_path / "srv")]},
        "module_dirs": [str(ROOT / "_modules")],
        "log_file": str(tmp_path / "root" / "minion.log"),
    }))

    def call(*args):
        # Exit 1 when a state fails: the output says which and why.
        proc = subprocess.run(
            [str(SALT_CALL), "--local", "-c", str(tmp_path), "--out=json", *args],
            capture_output=True, text=True, timeout=120,
        )
        assert proc.stdout, proc.stderr
        return json.loads(proc.stdout)["local"]

    return call


def test_the_mount_names_the_file_system_by_its_uuid_once_recorded(salt_call, loop, tmp_path):
    sh("mkfs.ext4", "-q", "-L", "nfsstate", loop)
    recorded = dict(line.split("=", 1) for line in blkid(loop).splitlines())["UUID"]
    mount_point, fstab = tmp_path / "mnt", tmp_path / "fstab"
    fstab.write_text("")
    pillar = "pillar=" + json.dumps({"device": loop, "mount_point": str(mount_point), "fstab": str(fstab)})

    def apply(*args):
        (ret,) = salt_call("state.sls", "mounted", pillar, *args).values()
        return ret

    try:
        # Nothing recorded yet (a cluster from before the record): by device.
        assert apply()["changes"] == {"mount": True, "persist": "new"}
        assert fstab.read_text().split() == [loop, str(mount_point), "ext4", "noatime", "0", "0"]

        salt_call("ocfs2.record_uuid", "nfsstate", recorded)
        planned = apply("test=True")
        assert planned["result"] is None and "fstab entry must be updated" in planned["comment"]
        # The line is replaced, not doubled, and the mounted file system stays.
        ret = apply()
        assert ret["result"] is True and ret["changes"] == {"persist": "update"}
        assert fstab.read_text().split() == [f"UUID={recorded}", str(mount_point), "ext4", "noatime", "0", "0"]
        again = apply()
        assert (again["result"], again["changes"]) == (True, {})

        # A device with another UUID is not mounted from that line, as at boot.
        sh("umount", str(mount_point))
        sh("mkfs.ext4", "-q", "-F", "-L", "nfsstate", loop)
        refused = apply()
        assert refused["result"] is False and f"UUID={recorded}" in refused["comment"]
        assert not os.path.ismount(mount_point)

        # Recorded again (the operator's choice): mounted by its UUID alone,
        # right after mkfs, with no udev link to it (libblkid scans).
        replaced = dict(line.split("=", 1) for line in blkid(loop).splitlines())["UUID"]
        salt_call("grains.delkey", "ocfs2_uuids", "force=True")
        salt_call("ocfs2.record_uuid", "nfsstate", replaced)
        ret = apply()
        assert ret["result"] is True and ret["changes"] == {"mount": True, "persist": "update"}
        assert os.path.ismount(mount_point)
        assert fstab.read_text().split()[0] == f"UUID={replaced}"
    finally:
        subprocess.run(["umount", str(mount_point)], capture_output=True)
