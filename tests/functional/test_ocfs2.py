"""
The ocfs2 modules through Salt's loader against the real tools (sfdisk, partx,
wipefs, mkfs.ocfs2, debugfs.ocfs2, mounted.ocfs2, o2cb) on loop devices over
sparse files. Each test gets its own loop device and detaches it.

This kernel has no ocfs2/configfs: nothing is mounted and the o2cb cluster
never comes online here (the VM lab covers that).
"""
import hashlib
import os
import shutil
import subprocess

import pytest
import salt.config
import salt.loader

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
    """The project's modules loaded by Salt's own loader, as on a minion."""

    def __init__(self, root):
        opts = salt.config.minion_config(None)
        opts.update(
            root_dir=str(root),
            cachedir=str(root / "cache"),
            extension_modules=str(root / "extmods"),
            file_client="local",
            module_dirs=[str(ROOT / "_modules")],
            states_dirs=[str(ROOT / "_states")],
            utils_dirs=[str(ROOT / "_utils")],
            grains={},
        )
        utils, serializers = salt.loader.utils(opts), salt.loader.serializers(opts)
        self.run = salt.loader.minion_mods(opts, utils=utils)
        self._states = {
            test: salt.loader.states(dict(opts, test=test), self.run, utils, serializers)
            for test in (False, True)
        }

    def state(self, function, *args, test=False, **kwargs):
        return self._states[test][f"ocfs2.{function}"](*args, **kwargs)


@pytest.fixture(scope="module")
def minion(tmp_path_factory):
    minion = Minion(tmp_path_factory.mktemp("nfsha-ocfs2-salt"))
    assert "ocfs2.info" in minion.run, "the ocfs2 execution module did not load"
    return minion


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

    again = minion.state("formatted", meta, "nfsmeta", cluster_name="ocfs")
    assert again["result"] is True and again["changes"] == {}


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
