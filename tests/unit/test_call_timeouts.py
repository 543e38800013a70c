"""
nfsha:call_timeouts: validated with their key path, and their defaults
(formula/nfsha/defaults.yaml) are the execution modules' own, so that a
module called by hand (``salt nfs1 iscsiadm.login ...``) is bounded as the
formula's states are.
"""
import pytest

from tests.conftest import load_salt_module
from tests.support.cluster import DEFAULTS, lab_pillar, problems


def with_call_timeouts(value):
    pillar = lab_pillar()
    pillar["nfsha"]["call_timeouts"] = value
    return pillar


def test_the_defaults_are_valid_and_the_modules_own():
    assert problems(lab_pillar()) == []
    modules = {name: load_salt_module("_modules", name) for name in ("tgt", "iscsiadm", "ocfs2", "nfsha_mount")}
    assert DEFAULTS["nfsha"]["call_timeouts"] == {
        "tgtadm": modules["tgt"].CALL_TIMEOUT,
        "iscsiadm": modules["iscsiadm"].CALL_TIMEOUT,
        "iscsi_login": modules["iscsiadm"].LOGIN_TIMEOUT,
        "ocfs2": modules["ocfs2"].CALL_TIMEOUT,
        "mkfs": modules["ocfs2"].MKFS_TIMEOUT,
        "mount": modules["nfsha_mount"].CALL_TIMEOUT,
        # nfsha-scsi-fence's sg_persist calls: a script of the servers,
        # not a module (formula/nfsha/ocfs2/fence.sls).
        "scsi_fence": 10,
    }


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"mkfs": 3600, "tgtadm": 1}, None),
        ({"mount": 30}, None),
        ({"mount": 0}, "nfsha:call_timeouts:mount: 0 is out of range 1-86400"),
        ({"mount": 150.5}, "nfsha:call_timeouts:mount: must be int, not float 150.5"),
        ({"mkfs": 0}, "nfsha:call_timeouts:mkfs: 0 is out of range 1-86400"),
        ({"iscsi_login": 86401}, "nfsha:call_timeouts:iscsi_login: 86401 is out of range 1-86400"),
        ({"tgtadm": "10s"}, "nfsha:call_timeouts:tgtadm: must be int, not str '10s'"),
        ({"ocfs2": True}, "nfsha:call_timeouts:ocfs2: must be int, not bool True"),
        ({"iscsiadm": None}, "nfsha:call_timeouts:iscsiadm: is required"),
        ([10], "nfsha:call_timeouts: must be dict, not list [10]"),
    ],
)
def test_a_bad_call_timeout_is_reported_with_its_key(value, expected):
    # Merged over the defaults: only the keys given change.
    found = problems(with_call_timeouts(value))
    if expected is None:
        assert found == []
    else:
        assert found == [expected]
