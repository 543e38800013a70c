"""
The lab's cluster definition as the formula sees it, built without a
master: pillar/nfsha.sls over formula/nfsha/defaults.yaml, through the
nfsha execution module, with the Debian OS map.
"""
import copy
import pathlib

import yaml

from tests.conftest import ROOT, load_salt_module

DEFAULTS = yaml.safe_load((ROOT / "formula/nfsha/defaults.yaml").read_text())
OSFAMILYMAP = yaml.safe_load((ROOT / "formula/nfsha/osfamilymap.yaml").read_text())
LAB_PILLAR = yaml.safe_load((ROOT / "pillar/nfsha.sls").read_text())


def lab_pillar():
    """A fresh copy of the lab's pillar, for a test to edit."""
    return copy.deepcopy(LAB_PILLAR)


def loaded(pillar=None, minion_id="nfs1"):
    """The nfsha execution module on ``minion_id`` with ``pillar`` (the lab's
    by default), on a Debian minion."""
    module = load_salt_module("_modules", "nfsha")
    module.__pillar__ = lab_pillar() if pillar is None else pillar
    module.__grains__ = {"id": minion_id}
    # grains.filter_by on a Debian minion (the functional tier runs Salt's).
    module.__salt__ = {"grains.filter_by": lambda lookup, grain: lookup["Debian"]}
    return module


def settings(pillar=None, minion_id="nfs1"):
    """nfsha.settings() of ``minion_id`` for ``pillar`` (the lab's by default)."""
    module = loaded(pillar, minion_id)
    return module.settings(copy.deepcopy(DEFAULTS), copy.deepcopy(OSFAMILYMAP)), module


def problems(pillar):
    """Every problem nfsha.validate finds in ``pillar``."""
    return loaded(pillar).validate(copy.deepcopy(DEFAULTS))
