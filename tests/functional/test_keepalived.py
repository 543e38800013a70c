"""
keepalived 2.2.7 for real: two daemons in two network namespaces joined by a
veth pair, queried and configured through ``salt-call --local`` run inside
the namespaces with this project's keepalived modules.
"""
import contextlib
import json
import os
import pathlib
import shutil
import signal
import stat
import subprocess
import sys
import time

import jinja2
import pytest

from tests.conftest import ROOT

NODES = {  # namespace: (address, keepalived config id)
    "nfsha-ka-a": ("10.252.61.1/24", "nfs1"),
    "nfsha-ka-b": ("10.252.61.2/24", "nfs2"),
}
VETH = "nfsha-ka-veth"
VIP = "10.252.61.10"
SECRET = "s3cr3t0"
SALT_CALL = pathlib.Path(sys.executable).with_name("salt-call")
TEMPLATE = """\
global_defs {
  vrrp_version 2
  script_user root
  enable_script_security
}
vrrp_script chk_flag {
  script "/usr/bin/test -e {{ flag }}"
  interval 1
  # A script's timeout defaults to its interval.
  timeout 2
  fall 2
  rise 1
}
vrrp_instance VI_1 {
  state BACKUP
  interface nfsha-ka-veth
  virtual_router_id {{ vrid }}
@nfs1  priority {{ priority }}
@nfs2  priority {{ priority - 1 }}
  advert_int 1
  authentication {
    auth_type PASS
    auth_pass {{ auth_pass }}
  }
  virtual_ipaddress {
    {{ vip }}/24
  }
  track_script {
    chk_flag
  }
}
"""


def _run(*cmd, check=True):
    return subprocess.run(cmd, capture_output=True, text=True, check=check, timeout=60)


def _delete_namespaces():
    present = _run("ip", "netns", "list").stdout.split()
    for ns in NODES:
        if ns in present:
            _run("ip", "netns", "delete", ns)


@pytest.fixture(scope="module")
def lab():
    """The two namespaces with a veth pair between them; always removed."""
    if os.geteuid() != 0:
        pytest.skip("keepalived in network namespaces needs root")
    for program, package in (("keepalived", "keepalived"), ("ip", "iproute2")):
        if not shutil.which(program):
            pytest.fail(f"{program} is missing: apt-get install {package}")
    _delete_namespaces()  # left over by a killed run
    try:
        for ns in NODES:
            _run("ip", "netns", "add", ns)
        peer = ["peer", "name", VETH, "netns", "nfsha-ka-b"]
        _run("ip", "-n", "nfsha-ka-a", "link", "add", VETH, "type", "veth", *peer)
        for ns, (address, _) in NODES.items():
            _run("ip", "-n", ns, "link", "set", "lo", "up")
            _run("ip", "-n", ns, "addr", "add", address, "dev", VETH)
            _run("ip", "-n", ns, "link", "set", VETH, "up")
        yield
    finally:
        _delete_namespaces()


@pytest.fixture(scope="module")
def salt_call(lab, tmp_path_factory):
    """Run ``salt-call --local`` in a namespace with private dirs and only
    this project's keepalived modules (and the utils they call)."""
    base = tmp_path_factory.mktemp("salt")
    for kind, name in (("_modules", "keepalived"), ("_states", "keepalived"), ("_utils", "nfsha_calls")):
        (base / "ext" / kind).mkdir(parents=True)
        (base / "ext" / kind / f"{name}.py").symlink_to(ROOT / kind / f"{name}.py")
    (base / "srv" / "ka").mkdir(parents=True)
    (base / "srv" / "ka" / "keepalived.conf.jinja").write_text(TEMPLATE)
    config = {
        "id": "nfsha-ka-test",
        "root_dir": str(base),
        "cachedir": str(base / "cache"),
        "pki_dir": str(base / "pki"),
        "sock_dir": str(base / "sock"),
        "log_file": str(base / "minion.log"),
        "log_level_logfile": "debug",
        "extension_modules": str(base / "extmods"),
        "file_client": "local",
        "file_roots": {"base": [str(base / "srv")]},
        "module_dirs": [str(base / "ext")],
    }
    (base / "conf").mkdir()
    (base / "conf" / "minion").write_text(json.dumps(config))

    def call(ns, *args):
        conf = str(base / "conf")
        cmd = ["ip", "netns", "exec", ns, str(SALT_CALL), "--local", "-c", conf, "--out", "json"]
        proc = _run(*cmd, *args, check=False)
        # Whatever happens, the password never shows.
        assert SECRET not in proc.stdout + proc.stderr
        return proc

    yield call
    # Nor in the log, down to debug level.
    assert SECRET not in (base / "minion.log").read_text()


def _exec(salt_call, ns, *args):
    proc = salt_call(ns, *args)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)["local"]


def _state(salt_call, ns, fun, *args):
    proc = salt_call(ns, "state.single", fun, *args)
    (ret,) = json.loads(proc.stdout)["local"].values()
    return ret


class Daemons:
    """keepalived daemons started by a test, stopped by pid afterwards."""

    def __init__(self, base):
        self.base = base
        self.started = []

    def start(self, ns, config):
        run = self.base / ns
        (run / "tmp").mkdir(parents=True, exist_ok=True)
        pidfiles = {"-p": run / "keepalived.pid", "-r": run / "vrrp.pid", "-c": run / "checkers.pid"}
        cmd = ["ip", "netns", "exec", ns, "keepalived", "-f", str(config), "-i", NODES[ns][1]]
        # --dont-fork: the pid started here is the daemon's, as under systemd.
        cmd += ["--dont-fork", "--log-console", "--no-syslog", "--vrrp"]
        for option, path in pidfiles.items():
            cmd += [option, str(path)]
        with open(run / "keepalived.log", "a") as log:
            proc = subprocess.Popen(
                cmd,
                env={**os.environ, "TMPDIR": str(run / "tmp")},
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.started.append(proc)
        _wait_for(
            lambda: proc.poll() is None and pidfiles["-r"].exists(),
            5,
            f"keepalived in {ns} did not start; see {run / 'keepalived.log'}",
        )
        # Read while the parent lives: this VRRP child is surely ours.
        self.started.append(int(pidfiles["-r"].read_text()))
        return proc, str(pidfiles["-p"])

    def stop_all(self):
        for started in self.started:
            if isinstance(started, int):
                # A VRRP child may outlive a killed parent.
                with contextlib.suppress(ProcessLookupError):
                    os.kill(started, signal.SIGKILL)
            elif started.poll() is None:
                started.terminate()
                try:
                    started.wait(5)
                except subprocess.TimeoutExpired:
                    started.kill()
                    started.wait()


@pytest.fixture
def daemons(lab, tmp_path):
    started = Daemons(tmp_path / "run")
    yield started
    started.stop_all()


def _wait_for(predicate, timeout, failure):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, failure
        time.sleep(0.05)


def _ns_holds_vip(ns):
    addrs = json.loads(_run("ip", "-n", ns, "-j", "addr", "show", "dev", VETH).stdout)
    return any(info["local"] == VIP for link in addrs for info in link["addr_info"])


def _render(tmp_path, ns):
    """A config for the node in ns, with a flag file its track script tests."""
    flag = tmp_path / f"{ns}.flag"
    flag.touch()
    values = {"vrid": 61, "priority": 101, "auth_pass": SECRET, "vip": VIP, "flag": flag}
    config = tmp_path / f"{ns}.conf"
    config.write_text(jinja2.Template(TEMPLATE).render(values))
    return config


def _instance_state(salt_call, ns, pidfile, *args):
    return _state(salt_call, ns, "keepalived.instance_state", "name=VI_1", f"pidfile={pidfile}", *args)


def _line(text, needle):
    """The number of the line of text that holds needle, as keepalived counts."""
    return next(n for n, line in enumerate(text.splitlines(), 1) if needle in line)


def test_instances_and_vip_follow_a_real_failover(salt_call, daemons, tmp_path):
    (proc_a, pid_a), (_, pid_b) = (daemons.start(ns, _render(tmp_path, ns)) for ns in NODES)

    # nfs1 has the higher priority: it wins the election.
    ret = _instance_state(salt_call, "nfsha-ka-a", pid_a, "vrrp_state=MASTER", "timeout=15")
    assert ret["result"] is True, ret["comment"]
    # No tmpdir given: found in the daemon's environment.
    a = _exec(salt_call, "nfsha-ka-a", "keepalived.instances", f"pidfile={pid_a}")
    b = _exec(salt_call, "nfsha-ka-b", "keepalived.instances", f"pidfile={pid_b}")
    assert {k: v for k, v in a["VI_1"].items() if k != "last_transition"} == {
        "state": "MASTER",
        "priority": 101,
        "effective_priority": 101,
        "vrid": 61,
        "vips": [f"{VIP}/24"],
        "interface": VETH,
    }
    assert (b["VI_1"]["state"], b["VI_1"]["priority"]) == ("BACKUP", 100)
    assert _exec(salt_call, "nfsha-ka-a", "keepalived.holds_vip", VIP) is True
    assert _exec(salt_call, "nfsha-ka-b", "keepalived.holds_vip", VIP) is False

    # nfs2 stays BACKUP behind nfs1: waiting for anything else times out.
    ret = _instance_state(salt_call, "nfsha-ka-b", pid_b, "vrrp_state=[FAULT, STOP]", "timeout=1")
    assert ret["result"] is False
    assert ret["comment"].endswith("did not become FAULT or STOP within 1 s; last seen: BACKUP")

    # The master stops: the backup takes the VIP within a few seconds.
    start = time.monotonic()
    proc_a.terminate()
    _wait_for(lambda: _ns_holds_vip("nfsha-ka-b"), 5, "the VIP did not move within 5 s")
    assert time.monotonic() - start < 5
    assert not _ns_holds_vip("nfsha-ka-a")
    assert _exec(salt_call, "nfsha-ka-b", "keepalived.state", "VI_1", f"pidfile={pid_b}") == "MASTER"
    assert _exec(salt_call, "nfsha-ka-b", "keepalived.holds_vip", f"{VIP}/24") is True
    gone = salt_call("nfsha-ka-a", "keepalived.instances", f"pidfile={pid_a}")
    assert gone.returncode != 0
    assert "keepalived is not running" in gone.stdout + gone.stderr

    # nfs2's track script fails too: FAULT, and the VIP is released.
    (tmp_path / "nfsha-ka-b.flag").unlink()
    ret = _instance_state(salt_call, "nfsha-ka-b", pid_b, "vrrp_state=FAULT", "timeout=10")
    assert ret["result"] is True, ret["comment"]
    assert not _ns_holds_vip("nfsha-ka-b")


def test_check_config(salt_call, tmp_path):
    good = _render(tmp_path, "nfsha-ka-a")
    ret = _exec(salt_call, "nfsha-ka-a", "keepalived.check_config", str(good), "config_id=nfs1")
    assert ret == {"valid": True, "messages": []}

    text = (
        good.read_text()
        .replace("advert_int 1", "advert_intt 1")
        # A password pushed onto its own line: keepalived quotes it.
        .replace(f"auth_pass {SECRET}", f"auth_pass {SECRET}\n    {SECRET}")
    )
    broken = tmp_path / "broken.conf"
    broken.write_text(text)
    ret = _exec(salt_call, "nfsha-ka-a", "keepalived.check_config", str(broken))
    assert ret["valid"] is False
    assert ret["messages"] == [
        f"({broken}: Line {_line(text, 'advert_intt')}) Unknown keyword 'advert_intt'",
        f"({broken}: Line {_line(text, 'auth_pass') + 1}) Unknown keyword '********'",
    ]

    missing = tmp_path / "missing.conf"
    ret = _exec(salt_call, "nfsha-ka-a", "keepalived.check_config", str(missing))
    assert ret == {"valid": False, "messages": [f"Config files missing '{missing}'."]}


def test_config_state_checks_writes_and_reloads(salt_call, daemons, tmp_path):
    live = tmp_path / "etc" / "keepalived.conf"
    live.parent.mkdir()
    pidfile = tmp_path / "run" / "nfsha-ka-a" / "keepalived.pid"
    flag = tmp_path / "flag"
    flag.touch()
    context = {"vrid": 62, "priority": 101, "auth_pass": SECRET, "vip": VIP, "flag": str(flag)}

    def apply(*extra, **changed):
        args = [f"name={live}", "source=salt://ka/keepalived.conf.jinja", "config_id=nfs1"]
        args += [f"context={json.dumps({**context, **changed})}", f"pidfile={pidfile}"]
        return _state(salt_call, "nfsha-ka-a", "keepalived.config", *args, *extra)

    def priority():
        found = _exec(salt_call, "nfsha-ka-a", "keepalived.instances", f"pidfile={pidfile}")
        return found["VI_1"]["priority"]

    ret = apply()
    assert (ret["result"], ret["changes"]) == (True, {"config": "updated"}), ret["comment"]
    assert "keepalived is not running, nothing to reload" in ret["comment"]
    mode = live.stat()
    assert (stat.S_IMODE(mode.st_mode), mode.st_uid, mode.st_gid) == (0o600, 0, 0)
    assert "@nfs1  priority 101" in live.read_text()

    daemons.start("nfsha-ka-a", live)
    ret = apply()
    assert (ret["result"], ret["changes"]) == (True, {}), ret["comment"]

    ret = apply(priority=150)
    assert ret["result"] is True, ret["comment"]
    assert ret["changes"] == {"config": "updated", "reloaded": True}
    _wait_for(lambda: priority() == 150, 5, "the reload did not bring the new priority")
    working = live.read_bytes()

    ret = apply("test=True", priority=160)
    assert ret["result"] is None, ret["comment"]
    assert ret["changes"] == {"config": "updated", "reloaded": True}
    assert live.read_bytes() == working

    ret = apply(vrid=300)
    assert (ret["result"], ret["changes"]) == (False, {})
    assert f"keepalived -t rejects the new {live}; the file is left unchanged" in ret["comment"]
    vrid_line = _line(live.read_text(), "virtual_router_id")
    assert f"({live}: Line {vrid_line}) (VI_1): VRID '300' not valid" in ret["comment"]
    assert live.read_bytes() == working
    assert os.listdir(live.parent) == ["keepalived.conf"]  # no temporary file left
    assert priority() == 150

    live.chmod(0o644)
    ret = apply(priority=150)
    assert (ret["result"], ret["changes"]) == (True, {"mode": "0600"}), ret["comment"]
    assert stat.S_IMODE(live.stat().st_mode) == 0o600


def test_a_preference_file_moves_the_vip_without_a_reload(salt_call, daemons, tmp_path):
    # What salt-run nfsha.switchover does (keepalived.conf.jinja's
    # vrrp_track_file): a number written into a server's preference file
    # raises its priority at once, and preemption moves the VIP.
    configs = {}
    for ns in NODES:
        text = _render(tmp_path, ns).read_text()
        text = text.replace("vrrp_instance VI_1 {", (
            "vrrp_track_file nfsha_preference {\n"
            f'  file "{tmp_path / ns}.preference"\n'
            "  weight 1\n  init_file 0\n}\n"
            "vrrp_instance VI_1 {\n  track_file {\n    nfsha_preference\n  }"
        ))
        configs[ns] = tmp_path / f"{ns}.preference.conf"
        configs[ns].write_text(text)
    (_, pid_a), (_, pid_b) = (daemons.start(ns, configs[ns]) for ns in NODES)
    ret = _instance_state(salt_call, "nfsha-ka-a", pid_a, "vrrp_state=MASTER", "timeout=15")
    assert ret["result"] is True, ret["comment"]
    # keepalived made the file (init_file) with 0.
    assert (tmp_path / "nfsha-ka-b.preference").read_text().strip() == "0"

    ret = _exec(salt_call, "nfsha-ka-b", "keepalived.set_track_file", "nfsha_preference", "154",
                f"path={configs['nfsha-ka-b']}")
    assert ret == {"file": f"{tmp_path / 'nfsha-ka-b'}.preference", "old": 0, "new": 154}
    _wait_for(lambda: _ns_holds_vip("nfsha-ka-b"), 10, "the VIP did not move to the preferred node")
    b = _exec(salt_call, "nfsha-ka-b", "keepalived.instances", f"pidfile={pid_b}")
    assert (b["VI_1"]["state"], b["VI_1"]["effective_priority"]) == ("MASTER", 254)
    assert not _ns_holds_vip("nfsha-ka-a")

    # Back to 0: the pillar's priorities decide again.
    _exec(salt_call, "nfsha-ka-b", "keepalived.set_track_file", "nfsha_preference", "0",
          f"path={configs['nfsha-ka-b']}")
    _wait_for(lambda: _ns_holds_vip("nfsha-ka-a"), 10, "the VIP did not come back")
