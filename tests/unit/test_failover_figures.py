"""
The failover benchmark's arithmetic (tests/support/failover.py): outcomes
summed up per scenario, the two profiles side by side, and the time two
servers served at once, from the monitor's samples; lab/bench reporting
a run that failed and going on; the workload's failed write.
"""
import importlib.machinery
import importlib.util
import subprocess
import sys

from tests.conftest import RECORDED, ROOT
from tests.support import failover
from tests.support.failover import Outcome, figures, overlap, records_in, table
from tests.support.lab import LabError, workload_failure


def outcome(scenario, move, stall, lost=0):
    return Outcome(scenario, "nfs1", "nfs2", move, stall, acked=100, lost=lost, nfsd_overlap_s=0.0, vip_overlap_s=0.0)


def test_figures_give_median_and_max_per_scenario_in_order():
    found = figures("nfsha", [
        outcome("power-off", 3.6, 62.0), outcome("failback", None, 2.0),
        outcome("power-off", 3.8, 64.5, lost=1), outcome("power-off", 4.4, 61.0),
    ])
    assert found == [
        {"profile": "nfsha", "scenario": "power-off", "runs": 3, "vip_move_s": {"median": 3.8, "max": 4.4},
         "stall_s": {"median": 62.0, "max": 64.5}, "lost_records": 1, "failures": []},
        {"profile": "nfsha", "scenario": "failback", "runs": 1, "vip_move_s": {"median": None, "max": None},
         "stall_s": {"median": 2.0, "max": 2.0}, "lost_records": 0, "failures": []},
    ]


def test_a_scenario_that_failed_is_a_figure_too():
    found = figures("seed", [outcome("power-off", 3.0, 201.4)],
                    [("link-cut", "run 1: the client's write of record 35 failed: ESTALE")])
    assert found[1] == {
        "profile": "seed", "scenario": "link-cut", "runs": 0,
        "vip_move_s": {"median": None, "max": None}, "stall_s": {"median": None, "max": None},
        "lost_records": 0, "failures": ["run 1: the client's write of record 35 failed: ESTALE"],
    }
    lines = table(figures("nfsha", [outcome("link-cut", 67.3, 69.8)]) + found).splitlines()
    (row,) = [r for r in lines if r.startswith("link-cut")]
    assert row.split()[2:] == ["67.3", "/", "67.3", "failed", "69.8", "/", "69.8", "failed", "-", "0", "/", "0"]
    assert lines[-1] == "failed: seed link-cut run 1: the client's write of record 35 failed: ESTALE"


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


def test_the_bench_reports_a_failed_run_and_goes_on(monkeypatch):
    def run(lab, scenario):
        if scenario == "link-cut":
            raise LabError("link-cut: nfs1 holds the VIP, not nfs2")
        return [outcome(scenario, 3.0, 70.0)]

    monkeypatch.setattr(failover, "run", run)
    lab = ConvergedLab()
    bench = load_bench()
    found = bench.measure(lab, ["nfsha", "seed"], ["link-cut", "power-off"], runs=2)
    assert [(f["profile"], f["scenario"], f["runs"], len(f["failures"])) for f in found] == [
        ("nfsha", "power-off", 2, 0), ("nfsha", "link-cut", 0, 2),
        ("seed", "power-off", 2, 0), ("seed", "link-cut", 0, 2),
    ]
    assert found[1]["failures"][0] == "run 1: link-cut: nfs1 holds the VIP, not nfs2"
    # Each profile converged, and again after each failure: the lab as the
    # failure left it measures nothing.
    assert lab.profiles == [{}, {}, {}] + [bench.PROFILES["seed"]] * 3
    # Only the formula's own failures and losses fail the bench.
    assert bench.broken(found)
    assert not bench.broken([f for f in found if f["profile"] == "seed"])
    assert bench.broken(figures("nfsha", [outcome("power-off", 3.0, 70.0, lost=1)]))


def test_the_workload_logs_a_failed_write_as_its_last_line(tmp_path):
    # A write to /dev/full fails (ENOSPC), as one to a stale NFS file
    # handle does (ESTALE): the workload says so and stops.
    log, control = tmp_path / "log", tmp_path / "phase"
    control.write_text("start\n")
    proc = subprocess.run([sys.executable, ROOT / "tests/support/workload.py", "/dev/full", log, control],
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 1, proc.stderr
    assert workload_failure(log.read_text()) == "the client's write of record 1 failed: ENOSPC"
    assert workload_failure("start 1 1.000 1.020\ndone\n") is None
    assert workload_failure("") is None
