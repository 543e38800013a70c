"""
No secret leaves the nfsha module or the pillar check, whatever its type
or wherever the pillar puts it: not in nfsha.settings' return (which
salt-run nfsha.switchover fetches into the master's job cache), not in a
validation problem, not in the nfsha.pillar_valid state's comment.
"""
import copy
import json

import pytest

from tests.conftest import ROOT, load_salt_module
from tests.support.cluster import DEFAULTS, OSFAMILYMAP, lab_pillar, loaded

# Each value is (or holds) text that must never show: what an operator could
# put where a secret goes, typed as YAML would type it.
SECRET_VALUES = {
    "str": "Zq7-secret-str",
    "short str": "Zq7",
    "long str": "Zq7-secret-far-too-long-for-any-tool",
    "int": 73918264,
    "float": 7391.8264,
    "list": ["Zq7-secret-list"],
    # Under a mistyped key: the key shows (in "did you mean password?"), not its value.
    "dict": {"pasword": "Zq7-secret-value"},
}


def shown(value):
    """The texts by which ``value`` would show in an output."""
    if isinstance(value, dict):
        return [t for v in value.values() for t in shown(v)]
    if isinstance(value, list):
        return [t for v in value for t in shown(v)]
    return [str(value)]


def placed(path, value):
    """The lab's pillar with ``value`` at ``path`` under nfsha."""
    pillar = lab_pillar()
    parent = pillar["nfsha"]
    for key in path[:-1]:
        parent = parent.setdefault(key, {})
    parent[path[-1]] = value
    return pillar


SECRET_PATHS = [("iscsi", "chap", "password"), ("iscsi", "mutual_chap", "password"), ("keepalived", "auth_pass")]
# A secret where a dictionary that holds secrets goes.
HOLDERS = [("iscsi", "chap"), ("iscsi", "mutual_chap"), ("iscsi",), ("keepalived",)]
CASES = [
    pytest.param(path, value, id=f"{':'.join(path)}={kind}")
    for path in SECRET_PATHS + HOLDERS
    for kind, value in SECRET_VALUES.items()
]


def outputs(pillar):
    """What the module and the state say about ``pillar``, as text."""
    module = loaded(pillar)
    module.__salt__["cp.get_file_str"] = lambda url: (ROOT / "formula/nfsha/defaults.yaml").read_text()
    state = load_salt_module("_states", "nfsha")
    state.__salt__ = {"nfsha.validate": module.validate}
    return {
        "settings": json.dumps(module.settings(copy.deepcopy(DEFAULTS), copy.deepcopy(OSFAMILYMAP))),
        "validate": "\n".join(module.validate()),
        "check": "\n".join(module.check(copy.deepcopy(pillar["nfsha"]))),
        "pillar_valid": json.dumps(state.pillar_valid("nfsha-validate-pillar")),
    }


@pytest.mark.parametrize(("path", "value"), CASES)
def test_no_secret_shows_whatever_its_type_and_place(path, value):
    found = outputs(placed(path, value))
    for where, text in found.items():
        for secret in shown(value):
            assert secret not in text, f"{secret!r} shows in {where}: {text}"


def test_the_problems_still_name_the_key_and_the_kind():
    found = outputs(placed(("keepalived", "auth_pass"), 12345678))
    assert "nfsha:keepalived:auth_pass: must be str, not int (quote it in YAML)" in found["validate"]
    found = outputs(placed(("iscsi", "chap"), "nfs-iscsi-user:Zq7-secret-str"))
    assert "nfsha:iscsi:chap: must be dict, not str" in found["validate"]
    # settings masks a malformed holder of secrets whole.
    assert json.loads(found["settings"])["iscsi"]["chap"] == "********"


def test_a_secret_under_a_mistyped_key_is_refused_and_masked():
    found = outputs(placed(("keepalived", "auth_pas"), "Zq7-secret"))
    assert "nfsha:keepalived:auth_pas: unknown key (did you mean keepalived:auth_pass?)" in found["validate"]
    assert json.loads(found["settings"])["keepalived"]["auth_pas"] == "********"
    assert "Zq7-secret" not in "".join(found.values())


def test_the_lab_secrets_stay_out_of_settings():
    pillar = lab_pillar()
    text = outputs(pillar)["settings"]
    for path in SECRET_PATHS:
        secret = pillar["nfsha"]
        for key in path:
            secret = secret[key]
        assert secret not in text
        assert f"pillar.get(nfsha:{':'.join(path)}, unmask=True)" in text

