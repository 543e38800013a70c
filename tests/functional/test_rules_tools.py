"""
The rules of _utils/nfsha_rules.py against the real tools they speak for:
o2cb takes exactly the cluster names the rule takes, sfdisk makes the
partition sizes the rule computes (and reads a size without a unit as
sectors, which the rule refuses), keepalived keeps no more of auth_pass
than the rule allows. Nothing here needs a daemon: o2cb edits a private
config file, sfdisk writes a sparse image file, keepalived only parses.
"""
import json
import shutil
import subprocess

import pytest

from tests.conftest import salt_utils

RULES = salt_utils()
TOOLS = {"o2cb": "ocfs2-tools", "sfdisk": "fdisk", "keepalived": "keepalived"}


@pytest.fixture(scope="module", autouse=True)
def tools():
    missing = [f"{tool} (package {package})" for tool, package in TOOLS.items() if not shutil.which(tool)]
    if missing:
        pytest.fail(f"missing programs, install their packages: {', '.join(missing)}")


@pytest.mark.parametrize(
    "name", ["ocfs", "Abc", "0123456789abcdef", "0123456789abcdefg", "a_b", "abc-d", "a.b", "_x"]
)
def test_o2cb_takes_the_cluster_names_the_rule_takes(tmp_path, name):
    ret = subprocess.run(
        ["o2cb", f"--config-file={tmp_path / 'cluster.conf'}", "add-cluster", name],
        capture_output=True, text=True, check=False,
    )
    assert (ret.returncode == 0) is (RULES["nfsha_rules.ocfs2_cluster_name"](name) is None), ret.stderr


def first_partition_bytes(image, size):
    script = f"label: gpt\nsize={size}, type=L\ntype=L\n"
    ret = subprocess.run(["sfdisk", "--quiet", str(image)], input=script, capture_output=True, text=True, check=False)
    if ret.returncode:
        return None
    table = json.loads(subprocess.run(["sfdisk", "--json", str(image)], capture_output=True, text=True, check=True).stdout)
    return table["partitiontable"]["partitions"][0]["size"] * 512


@pytest.mark.parametrize("size", ["64M", "64MiB", "64MB", "64m", "64mb", "64mib", "1G", "100K"])
def test_sfdisk_makes_the_size_the_rule_computes(tmp_path, size):
    image = tmp_path / "disk.img"
    image.write_bytes(b"")
    with open(image, "r+b") as handle:
        handle.truncate(2 * 1024**3)
    assert RULES["nfsha_rules.partition_size"](size) is None
    made = first_partition_bytes(image, size)
    # sfdisk aligns partitions to 1 MiB.
    assert made is not None and abs(made - RULES["nfsha_rules.size_bytes"](size)) < 1024**2, made


@pytest.mark.parametrize(("size", "made"), [("64", 64 * 512), ("0M", 512)])
def test_sfdisk_misreads_what_the_rule_refuses(tmp_path, size, made):
    image = tmp_path / "disk.img"
    with open(image, "wb") as handle:
        handle.truncate(2 * 1024**3)
    # Sectors, not megabytes: sfdisk takes it and makes something else.
    assert first_partition_bytes(image, size) == made
    assert RULES["nfsha_rules.partition_size"](size) is not None


KEEPALIVED_CONF = """\
vrrp_instance VI_1 {{
  state BACKUP
  interface lo
  virtual_router_id 51
  priority 100
  advert_int 1
  authentication {{
    auth_type PASS
    auth_pass {auth_pass}
  }}
  virtual_ipaddress {{
    192.0.2.10/24
  }}
}}
"""


@pytest.mark.parametrize("auth_pass", ["s3cr3t0", "12345678", "123456789", "a-much-longer-password"])
def test_keepalived_keeps_no_more_of_auth_pass_than_the_rule_allows(tmp_path, auth_pass):
    conf = tmp_path / "keepalived.conf"
    conf.write_text(KEEPALIVED_CONF.format(auth_pass=auth_pass))
    ret = subprocess.run(["keepalived", "-t", "-l", "-f", str(conf)], capture_output=True, text=True, check=False)
    truncated = "Truncating auth_pass to 8 characters" in ret.stdout + ret.stderr
    assert truncated is (RULES["nfsha_rules.vrrp_auth_pass"](auth_pass) is not None)
