"""
The failover scenarios of the lab, as the e2e tests check them and
`make bench` measures them.

Each scenario runs while the client writes numbered, fsync'ed records
through the VIP (tests/support/workload.py) and the host watches the
network (tests/support/lab_monitor.py); it ends with both servers back and
one of them serving. Its Outcome says which server holds the VIP at the
end, how long the VIP took to move to its new holder (the host's clock),
the client's longest wait for a write (the client's clock), how many
acknowledged records are missing afterwards, for how long two servers
served NFS at once (never: the NFS service lock), and for how long two
answered ARP for the VIP (VRRP's own handover: the old master answers
until it hears the new one).
"""
import dataclasses
import json
import statistics
import time
import uuid

from tests.support.cluster import settings
from tests.support.lab import PILLAR, STATE, LabError, servers_of

# The lab's pillar over the formula's defaults.
CONFIG, _ = settings()
SERVERS = servers_of(PILLAR)
WRITER = PILLAR["ocfs2"]["filesystems"]["data"]["user"]
DATA = PILLAR["ocfs2"]["filesystems"].get("data", {}).get("mount_point", "/srv/nfs4/data")
# The client's mount of the data export.
CLIENT_MOUNT = "/data"
# Records written before the event, and after the cluster has settled.
QUIET = 3
# The longest a move may take: an OCFS2 node's death is declared after its
# disk heartbeat has been silent for o2cb's dead threshold (about 60 s).
MOVE_TIMEOUT = 240
# A VM's boot and rejoin under software emulation.
BOOT_TIMEOUT = 600
# A client's first write after a restart or a move: the proof of concept's
# grace period is 90 s.
RECOVERY_TIMEOUT = 300
NFS_LOCK_UNIT = "nfsha-nfs-lock"
ADVERT_INT = CONFIG["keepalived"]["advert_int"]
# VRRP (IP protocol 112) dropped both ways on the VIP's interface, with tc:
# the lab's box has no firewall tools, and tc is in iproute2.
_VIP_DEV = CONFIG["vip"]["interface"]
VRRP_DROP = f"tc qdisc add dev {_VIP_DEV} clsact; " + "; ".join(
    f"tc filter add dev {_VIP_DEV} {way} protocol ip u32 match ip protocol 112 0xff action drop"
    for way in ("ingress", "egress")
)
VRRP_UNDROP = f"tc qdisc del dev {_VIP_DEV} clsact"


@dataclasses.dataclass
class Outcome:
    """One move of the VIP (a scenario has one or two: a failover, a
    failback), with what the client saw meanwhile."""

    scenario: str
    before: str
    after: str
    vip_move_s: float | None
    stall_s: float
    acked: int
    lost: int
    nfsd_overlap_s: float
    vip_overlap_s: float


@dataclasses.dataclass
class Move:
    scenario: str
    # The workload's phase while it happened.
    phase: str
    before: str
    after: str
    vip_move_s: float | None


def run(lab, scenario, preempt=True):
    """Run ``scenario`` (a key of SCENARIOS) once: an Outcome per move."""
    (before,) = lab.holders()
    (other,) = [s for s in SERVERS if s != before]
    records = f"{CLIENT_MOUNT}/failover-{scenario}-{uuid.uuid4().hex[:8]}"
    started = time.time()
    lab.start_workload(records, WRITER)
    with lab.monitor() as monitor:
        # The client writes before the event (not still in the grace period
        # of a restart before it) and again after the last move (the server
        # is back before the client is): each phase has its own writes.
        writes_in("start", lab)
        time.sleep(QUIET)
        moves = SCENARIOS[scenario](lab, monitor, before, other, preempt)
        writes_in(moves[-1].phase, lab)
        time.sleep(QUIET)
        log = lab.stop_workload()
    (holder,) = lab.holders()
    if holder != moves[-1].after:
        raise LabError(f"{scenario}: {holder} holds the VIP, not {moves[-1].after}")
    lost = len(lost_records(lab, records, log, holder))
    if lost:
        # Kept for the post-mortem: the next run's workload starts a new log.
        post_mortem = STATE / f"{records.rsplit('/', 1)[1]}.json"
        post_mortem.write_text(json.dumps(evidence(lab, records, started, log, moves, monitor.samples)))
    return [
        Outcome(
            scenario=move.scenario,
            before=move.before,
            after=move.after,
            vip_move_s=move.vip_move_s,
            stall_s=round(max(end - start for phase, _, start, end in log if phase == move.phase), 2),
            acked=len(log),
            lost=lost,
            nfsd_overlap_s=overlap(monitor.samples, "nfsd"),
            vip_overlap_s=overlap(monitor.samples, "vip"),
        )
        for move in moves
    ]


def writes_in(phase, lab):
    """Wait until the workload has acknowledged a write begun in ``phase``."""
    lab.wait_for(f"the client to write ({phase})",
                 lambda: any(r[0] == phase for r in lab.workload_records()), RECOVERY_TIMEOUT, 2)


def lost_records(lab, path, log, holder):
    """The acknowledged records that the client (its caches dropped) or
    the VIP holder's file system does not have."""
    acked = {number for _, number, _, _ in log}
    lab.sh("client", "sync; echo 3 > /proc/sys/vm/drop_caches")
    seen_by_client = records_in(lab.sh("client", f"cat {path}", user=WRITER))
    on_server = records_in(lab.sh(holder, f"cat {DATA}/{path.rsplit('/', 1)[1]}"))
    return sorted(acked - (seen_by_client & on_server))


def evidence(lab, path, since, log, moves, samples):
    """What a run that lost records leaves for its post-mortem: the client's
    log, the moves, the monitor's samples and, per server, its kernel's and
    the NFS services' messages since ``since`` and the records file's NUL
    bytes as its page cache and as the shared disk (O_DIRECT) hold it."""
    name = path.rsplit("/", 1)[1]
    disk = f"dd if={DATA}/{name} iflag=direct bs=1M status=none"
    servers = {}
    for server in SERVERS:
        servers[server] = {
            what: lab.salt(server, "cmd.run", command, "python_shell=True")
            for what, command in {
                "journal": f"journalctl -o short-unix --since @{since:.0f} -k -u nfs-server -u keepalived -u o2cb",
                # Where the NUL bytes are, through the page cache and on the
                # disk, and where the two differ.
                "cached_nul": f"od -A d -v -c {DATA}/{name} | grep -F '\\0' | head -n 20",
                "disk_nul": f"{disk} | od -A d -v -c | grep -F '\\0' | head -n 20",
                "cached_vs_disk": f"{disk} | cmp - {DATA}/{name}",
                "stat": f"stat {DATA}/{name}",
            }.items()
        }
    return {"log": log, "moves": [dataclasses.asdict(m) for m in moves], "samples": samples, "servers": servers}


def records_in(text):
    """The record numbers in a records file; a damaged record (a range of
    NUL bytes where the file lost its data) is not one."""
    return {int(token) for token in text.split() if token.isdigit()}


def overlap(samples, key):
    """Seconds during which two servers answered on the NFS port (``key``
    nfsd), or two MAC addresses for the VIP (vip); each sample stands for
    the time to the next."""
    total = 0.0
    for sample, following in zip(samples, samples[1:]):
        if len(sample[key]) > 1:
            total += following["t"] - sample["t"]
    return round(total, 2)


def moved(lab, monitor, since, to):
    """Wait until ``to`` alone holds the VIP and serves; return (the time
    from ``since``, or from the last sample when another node still held
    the VIP if that is later, until then; when it was first seen)."""
    lab.wait_for(f"{to} to hold the VIP and serve NFS", lambda: monitor.holds(to, since), MOVE_TIMEOUT, 0.2)
    samples = monitor.since(since)
    arrived = next(s["t"] for s in samples if s["vip"] == [to] and to in s["nfsd"])
    left = max([since] + [s["t"] for s in samples if s["t"] < arrived and s["vip"] and s["vip"] != [to]])
    return round(arrived - left, 2), arrived


def healthy(lab, node):
    """Wait until ``node`` answers again and its keepalived runs."""
    lab.wait_for(f"{node} to answer", lambda: lab.answers(node), BOOT_TIMEOUT, 5)
    lab.wait_for(f"keepalived on {node}", lambda: lab.salt(node, "service.status", "keepalived") is True,
                 BOOT_TIMEOUT, 5)


def failback(lab, monitor, since, before, other, preempt, phase):
    """5: the old holder is back: it takes the VIP again when preemption
    is on, else the VIP stays where it is. ``since``: when ``other`` took
    the VIP."""
    if not preempt:
        return Move("failback", phase, other, other, None)
    return Move("failback", phase, other, before, moved(lab, monitor, since, before)[0])


def outage(lab, monitor, before, other, preempt, scenario, cut, restore, back):
    """The VIP holder goes (``cut()``) and comes back (``restore()``): a
    failover while the workload is in phase ``scenario``, then the failback
    in phase ``back``."""
    lab.workload_phase(scenario)
    since = time.time()
    cut()
    move, arrived = moved(lab, monitor, since, other)
    lab.workload_phase(back)
    restore()
    healthy(lab, before)
    return [Move(scenario, scenario, before, other, move),
            failback(lab, monitor, arrived, before, other, preempt, phase=back)]


def power_off(lab, monitor, before, other, preempt):
    """1 and 5: the VIP holder loses its power; then it comes back."""
    return outage(lab, monitor, before, other, preempt, "power-off",
                  lambda: lab.power_off(before), lambda: lab.power_on(before), "return")


def holder_fails(lab, monitor, before, other, preempt, scenario, command):
    """The VIP holder's nfsd stops (``command`` on it): its NFS check fails,
    the other server serves; back out of FAULT (its mounts are fine), the
    holder takes the VIP back when preemption is on."""
    lab.workload_phase(scenario)
    since = time.time()
    lab.sh(before, command)
    move, arrived = moved(lab, monitor, since, other)
    if preempt:
        moved(lab, monitor, arrived, before)
    return [Move(scenario, scenario, before, before if preempt else other, move)]


def nfs_stopped(lab, monitor, before, other, preempt):
    """2: nfs-server stops on the VIP holder."""
    return holder_fails(lab, monitor, before, other, preempt, "nfs-stopped", "systemctl stop nfs-server")


def lock_lost(lab, monitor, before, other, preempt):
    """8: the process that holds the NFS service lock on the VIP holder is
    killed (SIGKILL): the lock is free, and nfsd, bound to it, stops at
    once, before the other server can take the lock."""
    # MainPID 0 (the lock not held) must not become kill 0 (the whole
    # process group): kill without a pid fails instead.
    return holder_fails(lab, monitor, before, other, preempt, "lock-lost",
                        f"kill -KILL $(systemctl show --property MainPID --value {NFS_LOCK_UNIT} | grep -x '[1-9][0-9]*')")


def vrrp_partition(lab, monitor, before, other, preempt):
    """9: VRRP is cut between the servers (the other server drops VRRP both
    ways; o2cb, iSCSI and the client's traffic still flow), so both are
    MASTER. The other server's nfsd waits for the NFS service lock, which
    the holder's keeps: after the NFS check's lock_wait it gives up the
    VIP, and stays in FAULT while the lock is held. VRRP comes back: the
    holder still holds the VIP alone; a restart of the other server's
    keepalived (what docs/operations.md tells the operator) makes it a
    backup again."""
    lab.workload_phase("vrrp-partition")
    since = time.time()
    lab.sh(other, VRRP_DROP)
    try:
        lab.wait_for(f"{other} to take the VIP too", lambda: other in monitor.latest(since, "vip"), MOVE_TIMEOUT, 0.2)
        move, _ = moved(lab, monitor, since, before)
    finally:
        lab.sh(other, VRRP_UNDROP)
    # The adverts flow again: no second holder for as long as VRRP would take.
    time.sleep(3 * ADVERT_INT + 1)
    if not monitor.holds(before, since):
        raise LabError(f"vrrp-partition: {before} is not the only VIP holder once VRRP is back")
    if vrrp_state(lab, other) != "FAULT":
        raise LabError(f"vrrp-partition: {other} is {vrrp_state(lab, other)}, not FAULT, while {before} holds the lock")
    lab.sh(other, "systemctl restart keepalived")
    lab.wait_for(f"{other} to be BACKUP", lambda: vrrp_state(lab, other) == "BACKUP", MOVE_TIMEOUT, 2)
    return [Move("vrrp-partition", "vrrp-partition", before, before, move)]


def vrrp_state(lab, node):
    return lab.salt(node, "keepalived.state", CONFIG["keepalived"]["instance"])


def link_cut(lab, monitor, before, other, preempt):
    """3: the VIP holder's cable to the cluster network is cut, then
    restored. Cut off from the shared disk too, OCFS2 fences it."""
    return outage(lab, monitor, before, other, preempt, "link-cut",
                  lambda: lab.set_link(before, up=False), lambda: lab.set_link(before, up=True),
                  "link-restored")


def keepalived_stopped(lab, monitor, before, other, preempt):
    """4: keepalived is stopped on the VIP holder (planned), then started."""
    return outage(lab, monitor, before, other, preempt, "keepalived-stopped",
                  lambda: lab.sh(before, "systemctl stop keepalived"),
                  lambda: lab.sh(before, "systemctl start keepalived"), "keepalived-started")


def target_restarted(lab, monitor, before, other, preempt):
    """6: the iSCSI target restarts while the client writes. The holder
    keeps serving once its disk is back: iscsid re-opens the sessions, or
    nfsha-iscsi-watchdog restarts iscsid where it is stuck re-opening one
    (open-iscsi #387, docs/failover.md), before OCFS2 would fence it."""
    boot = boot_id(lab, before)
    lab.workload_phase("target-restarted")
    since = time.time()
    lab.sh("iscsi", "systemctl restart tgt")
    sessions_back(lab)
    if boot_id(lab, before) != boot:
        raise LabError(f"target-restarted: OCFS2 fenced {before}")
    lab.wait_for(f"{before} to serve", lambda: monitor.holds(before, since), MOVE_TIMEOUT, 0.2)
    return [Move("target-restarted", "target-restarted", before, before, None)]


def sessions_back(lab):
    """Wait until the target has a session from every server again."""
    lab.wait_for("the iSCSI sessions", lambda: len(lab.salt("iscsi", "tgt.sessions")) == len(SERVERS),
                 MOVE_TIMEOUT, 2)


def boot_id(lab, node):
    """The kernel's id of ``node``'s current boot."""
    return lab.sh(node, "cat /proc/sys/kernel/random/boot_id")


def frozen_holder(lab, monitor, before, other, preempt):
    """10: the VIP holder freezes (its VM paused) until the other server
    has declared it dead, fenced it and serves; then it wakes up, with its
    mounts, its nfsd and its keepalived as they were. Fenced (SCSI
    reservation), it cannot write to the shared disk any more and reboots;
    back, it registers before its mounts and the reservation is cleared."""
    boot = boot_id(lab, before)
    lab.workload_phase("frozen-holder")
    since = time.time()
    lab.freeze(before, True)
    try:
        move, arrived = moved(lab, monitor, since, other)
    finally:
        lab.freeze(before, False)
    lab.workload_phase("thawed")
    healthy(lab, before)
    if boot_id(lab, before) == boot:
        raise LabError(f"frozen-holder: {before} woke up fenced and did not reboot")
    lab.wait_for("the fence's reservation to be cleared", lambda: reservation(lab, other) is None, MOVE_TIMEOUT, 2)
    return [Move("frozen-holder", "frozen-holder", before, other, move),
            failback(lab, monitor, arrived, before, other, preempt, phase="thawed")]


def reservation(lab, node):
    """The SCSI reservation's key on the shared disk, as ``node`` reads it
    (None: no reservation)."""
    out = lab.sh(node, f"sg_persist --no-inquiry --in --read-reservation {CONFIG['iscsi']['device']}")
    return next((line.split("=", 1)[1] for line in out.splitlines() if line.strip().startswith("Key=")), None)


def switched_over(lab, monitor, before, other, preempt):
    """7: salt-run nfsha.switchover, there and back."""
    lab.workload_phase("switchover")
    since = time.time()
    report = lab.master("salt-run", "nfsha.switchover", f"to={other}")
    if report.get("to") != other:
        raise LabError(f"nfsha.switchover to={other}: {report}")
    move, _ = moved(lab, monitor, since, other)
    lab.workload_phase("switchback")
    since = time.time()
    lab.master("salt-run", "nfsha.switchover", f"to={before}")
    return [Move("switchover", "switchover", before, other, move),
            Move("switchback", "switchback", other, before, moved(lab, monitor, since, before)[0])]


SCENARIOS = {
    "power-off": power_off,
    "nfs-stopped": nfs_stopped,
    "link-cut": link_cut,
    "keepalived-stopped": keepalived_stopped,
    "target-restarted": target_restarted,
    "switchover": switched_over,
    "lock-lost": lock_lost,
    "vrrp-partition": vrrp_partition,
    "frozen-holder": frozen_holder,
}


def summary(values):
    """``{median, max}`` of a list of numbers (None values left out)."""
    values = [v for v in values if v is not None]
    if not values:
        return {"median": None, "max": None}
    return {"median": round(statistics.median(values), 2), "max": round(max(values), 2)}


def figures(profile, outcomes, failures=()):
    """One profile's outcomes summed up by scenario, in the order they came,
    with the scenarios' failures (``(scenario, message)`` pairs) after them:
    ``{profile, scenario, runs, vip_move_s, stall_s, lost_records,
    failures}``; runs counts the runs that ended."""
    by_scenario = {}
    for outcome in outcomes:
        by_scenario.setdefault(outcome.scenario, []).append(outcome)
    failed = {}
    for scenario, message in failures:
        by_scenario.setdefault(scenario, [])
        failed.setdefault(scenario, []).append(message)
    return [
        {
            "profile": profile,
            "scenario": scenario,
            "runs": len(found),
            "vip_move_s": summary([o.vip_move_s for o in found]),
            "stall_s": summary([o.stall_s for o in found]),
            "lost_records": sum(o.lost for o in found),
            "failures": failed.get(scenario, []),
        }
        for scenario, found in by_scenario.items()
    ]


def table(figures):
    """The figures of both profiles side by side, one row per scenario."""
    by = {(f["scenario"], f["profile"]): f for f in figures}
    rows = [("scenario", "runs", "VIP move s nfsha", "VIP move s seed",
             "stall s nfsha", "stall s seed", "stall seed/nfsha", "lost nfsha/seed")]

    def pair(figure, key):
        if figure and figure["failures"] and not figure["runs"]:
            return "failed"
        if not figure or figure[key]["median"] is None:
            return "-"
        return f"{figure[key]['median']:g} / {figure[key]['max']:g}"

    def lost(figure):
        return str(figure["lost_records"]) if figure else "-"

    for scenario in dict.fromkeys(f["scenario"] for f in figures):
        ours, seed = by.get((scenario, "nfsha")), by.get((scenario, "seed"))
        ratio = "-"
        if ours and seed and ours["stall_s"]["median"] and seed["stall_s"]["median"] is not None:
            ratio = f"{seed['stall_s']['median'] / ours['stall_s']['median']:.1f}x"
        rows.append((
            scenario, str((ours or seed)["runs"]),
            pair(ours, "vip_move_s"), pair(seed, "vip_move_s"),
            pair(ours, "stall_s"), pair(seed, "stall_s"),
            ratio, f"{lost(ours)} / {lost(seed)}",
        ))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    lines.append("(median / max over the runs that ended; stall: the client's longest fsync'ed write)")
    lines += [f"failed: {f['profile']} {f['scenario']} {message}" for f in figures for message in f["failures"]]
    return "\n".join(lines)
