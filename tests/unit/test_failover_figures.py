"""
The failover benchmark's arithmetic (tests/support/failover.py): outcomes
summed up per scenario, the two profiles side by side, and the time two
servers served at once, from the monitor's samples; lab/bench keeping
what it measured before a scenario failed.
"""
import importlib.machinery
import importlib.util

from tests.conftest import RECORDED, ROOT
from tests.support import failover
from tests.support.failover import Outcome, figures, overlap, records_in, table
from tests.support.lab import LabError


def outcome(scenario, move, stall, lost=0):
    return Outcome(scenario, "nfs1", "nfs2", move, stall, acked=100, lost=lost, nfsd_overlap_s=0.0, vip_overlap_s=0.0)


def test_figures_give_median_and_max_per_scenario_in_order():
    found = figures("nfsha", [
        outcome("power-off", 3.6, 62.0), outcome("failback", None, 2.0),
        outcome("power-off", 3.8, 64.5, lost=1), outcome("power-off", 4.4, 61.0),
    ])
    assert found == [
        {"profile": "nfsha", "scenario": "power-off", "runs": 3, "vip_move_s": {"median": 3.8, "max": 4.4},
         "stall_s": {"median": 62.0, "max": 64.5}, "lost_records": 1},
        {"profile": "nfsha", "scenario": "failback", "runs": 1, "vip_move_s": {"median": None, "max": None},
         "stall_s": {"median": 2.0, "max": 2.0}, "lost_records": 0},
    ]


def test_the_table_sets_the_profiles_side_by_side():
    rows = table(figures("nfsha", [outcome("switchover", 1.2, 2.0)])
                 + figures("seed", [outcome("switchover", 3.6, 91.0)])).splitlines()
    assert rows[0].split("  ")[0] == "scenario"
    assert rows[2].split() == ["switchover", "1", "1.2", "/", "1.2", "3.6", "/", "3.6",
                               "2", "/", "2", "91", "/", "91", "45.5x", "0", "/", "0"]
    assert rows[-1].startswith("(median / max")


def test_a_profile_that_did_not_run_shows_dashes():
    (row,) = [r for r in table(figures("nfsha", [outcome("link-cut", 4.0, 70.0)])).splitlines()
              if r.startswith("link-cut")]
    assert row.split()[-4:] == ["-", "0", "/", "-"]


def test_overlap_counts_the_time_two_servers_serve_or_hold_the_vip():
    samples = [
        {"t": 0.0, "vip": ["nfs1"], "nfsd": ["nfs1"]},
        {"t": 0.1, "vip": ["nfs1"], "nfsd": ["nfs1", "nfs2"]},
        {"t": 0.3, "vip": ["nfs1", "nfs2"], "nfsd": ["nfs2"]},
        {"t": 0.4, "vip": ["nfs2"], "nfsd": ["nfs2"]},
        {"t": 0.5, "vip": ["nfs2"], "nfsd": ["nfs2"]},
    ]
    assert overlap(samples, "nfsd") == 0.2
    assert overlap(samples, "vip") == 0.1
    assert overlap(samples[:1], "nfsd") == 0.0


def test_records_lost_to_nul_bytes_are_missing_not_an_error():
    # Recorded: a power-off scenario's records file on the holder, whose
    # records 421 to 456 read as NUL bytes (docs/failover.md).
    text = (RECORDED / "ocfs2/power-off-records.bin").read_bytes().decode()
    found = records_in(text)
    assert set(range(1, 421)) <= found
    assert found.isdisjoint(range(421, 457))
    assert 457 in found


class ConvergedLab:
    """A lab whose orchestration always passes: what lab/bench asks of it."""

    def __init__(self):
        self.profiles = []

    def edit_pillar(self, edits):
        self.profiles.append(edits)

    def orchestrate(self):
        return {}, 1.0


def load_bench():
    loader = importlib.machinery.SourceFileLoader("bench", str(ROOT / "lab/bench"))
    module = importlib.util.module_from_spec(importlib.util.spec_from_loader("bench", loader))
    loader.exec_module(module)
    return module


def test_the_bench_keeps_the_figures_measured_before_a_scenario_fails(monkeypatch):
    def run(lab, scenario):
        if scenario == "link-cut":
            raise LabError("link-cut: nfs1 holds the VIP, not nfs2")
        return [outcome(scenario, 3.0, 70.0)]

    monkeypatch.setattr(failover, "run", run)
    lab = ConvergedLab()
    found, failure = load_bench().measure(lab, ["nfsha", "seed"], ["power-off", "link-cut"], runs=2)
    assert [(f["profile"], f["scenario"], f["runs"]) for f in found] == [("nfsha", "power-off", 1)]
    assert failure == "profile nfsha, run 1, link-cut: link-cut: nfs1 holds the VIP, not nfs2"
    # The seed profile is not measured on a lab left as the failure left it.
    assert lab.profiles == [{}]
