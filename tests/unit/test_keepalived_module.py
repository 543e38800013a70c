"""
The keepalived execution module on outputs recorded from keepalived 2.2.7
and iproute2 6.1 (tests/recorded/keepalived), with cmd.run_all, signals and
/proc faked.
"""
import json
import os
import stat

import pytest
from salt.exceptions import CommandExecutionError, SaltInvocationError

from tests.conftest import load_salt_module, recorded, timed_out

SECRET = "s3cr3t0"


class FakeRun:
    """cmd.run_all answering by command prefix; records every call."""

    def __init__(self):
        self.calls = []
        self.options = []
        self.replies = {}

    def reply(self, *prefix, stdout="", stderr="", retcode=0, answer=None):
        """Answer commands starting with prefix; answer(cmd), when given,
        sees the command first and may return the reply itself."""
        self.replies[prefix] = (dict(stdout=stdout, stderr=stderr, retcode=retcode), answer)

    def __call__(self, cmd, **kwargs):
        assert kwargs["python_shell"] is False
        self.calls.append(cmd)
        self.options.append(kwargs)
        for prefix, (ret, answer) in self.replies.items():
            if tuple(cmd[: len(prefix)]) == prefix:
                return (answer and answer(cmd)) or ret
        raise AssertionError(f"unexpected command {cmd}")


def configtest(name):
    """A recorded `keepalived -t` run: stderr lines, then rc=N."""
    *lines, rc = recorded(f"keepalived/{name}").splitlines()
    return {"stderr": "\n".join(lines) + "\n", "retcode": int(rc.removeprefix("rc="))}


@pytest.fixture
def keepalived():
    return load_salt_module("_modules", "keepalived")


@pytest.fixture
def run():
    fake = FakeRun()
    fake.reply("keepalived", "--signum=JSON", stdout="36\n")
    fake.reply("keepalived", "--signum=RELOAD", stdout="1\n")
    return fake


@pytest.fixture
def configure_loader_modules(keepalived, run):
    return {keepalived: {"__salt__": {"cmd.run_all": run}}}


@pytest.fixture
def daemon(keepalived, tmp_path, monkeypatch):
    """A fake running keepalived: pid file, /proc entry, TMPDIR and kill."""

    class Daemon:
        pid = 4242
        pidfile = tmp_path / "keepalived.pid"
        tmpdir = tmp_path / "katmp"
        dump = recorded("keepalived/keepalived-master.json")
        signals = []

        def kill(self, pid, signum):
            self.signals.append((pid, signum))
            if signum == 36 and self.dump is not None:
                (self.tmpdir / "keepalived.json").write_text(self.dump)

    fake = Daemon()
    fake.tmpdir.mkdir()
    fake.pidfile.write_text("4242\n")
    proc = tmp_path / "proc"
    (proc / "4242").mkdir(parents=True)
    (proc / "4242" / "comm").write_text("keepalived\n")
    (proc / "4242" / "environ").write_bytes(f"PATH=/usr/bin\0TMPDIR={fake.tmpdir}\0".encode())
    monkeypatch.setattr(keepalived, "_PROC", str(proc))
    monkeypatch.setattr(keepalived.os, "kill", fake.kill)
    return fake


MASTER = {
    "VI_1": {
        "state": "MASTER",
        "priority": 101,
        "effective_priority": 101,
        "vrid": 61,
        "vips": ["10.252.61.10/24"],
        "interface": "nfsha-ka-veth",
        "last_transition": 1795606940.673708,
    }
}


def test_virtual_needs_the_keepalived_program(keepalived, monkeypatch):
    monkeypatch.setattr(keepalived.salt.utils.path, "which", lambda name: None)
    assert keepalived.__virtual__() == (False, "keepalived: the keepalived program is not installed")
    monkeypatch.setattr(keepalived.salt.utils.path, "which", lambda name: f"/usr/sbin/{name}")
    assert keepalived.__virtual__() == "keepalived"


# check_config


def test_check_config_valid_runs_keepalived_t_with_e_and_config_id(keepalived, run, tmp_path):
    conf = tmp_path / "keepalived.conf"
    conf.write_text(recorded("keepalived/keepalived.conf.used"))
    run.reply("keepalived", "-t", **configtest("ka-configtest-valid.txt"))
    assert keepalived.check_config(str(conf), config_id="nfs1") == {"valid": True, "messages": []}
    assert run.calls == [["keepalived", "-t", "-e", "-f", str(conf), "-i", "nfs1"]]


def test_check_config_broken_lists_every_message(keepalived, run):
    run.reply("keepalived", "-t", **configtest("ka-configtest-broken.txt"))
    ret = keepalived.check_config("/srv/lab/keepalived-broken.conf")
    assert run.calls == [["keepalived", "-t", "-e", "-f", "/srv/lab/keepalived-broken.conf"]]
    assert ret["valid"] is False
    assert ret["messages"] == [
        "(/srv/lab/keepalived-broken.conf: Line 13) WARNING - interface nosuchif0 for vrrp_instance VI_1 doesn't exist",
        "(/srv/lab/keepalived-broken.conf: Line 14) number '300' outside range [1, 255]",
        "(/srv/lab/keepalived-broken.conf: Line 14) (VI_1): VRID '300' not valid - must be between 1 & 255",
        "(/srv/lab/keepalived-broken.conf: Line 17) Unknown keyword 'advert_intt'",
        "(/srv/lab/keepalived-broken.conf: Line 19) (VI_1) unknown authentication type 'FOO'",
        "Non-existent interface specified in configuration",
    ]


def test_check_config_missing_file_is_invalid(keepalived, run):
    run.reply("keepalived", "-t", **configtest("ka-configtest-missing.txt"))
    assert keepalived.check_config("/srv/lab/missing.conf") == {
        "valid": False,
        "messages": ["Config files missing '/srv/lab/missing.conf'."],
    }


def test_check_config_masks_a_password_keepalived_quotes(keepalived, run, tmp_path):
    conf = tmp_path / "keepalived-secret-echo.conf"
    conf.write_text(recorded("keepalived/keepalived-secret-echo.conf"))
    run.reply("keepalived", "-t", **configtest("ka-configtest-secret-echo.txt"))
    ret = keepalived.check_config(str(conf))
    assert ret == {
        "valid": False,
        "messages": ["(/srv/lab/keepalived-secret-echo.conf: Line 14) Unknown keyword '********'"],
    }
    # Salt must not log the unmasked messages.
    assert run.options[0]["output_loglevel"] == "quiet"


@pytest.mark.parametrize(
    "text, secrets",
    [
        (recorded("keepalived/keepalived.conf.used"), {SECRET}),
        (recorded("keepalived/keepalived-secret-echo.conf"), {SECRET}),
        ('    auth_pass "two words"\n', {"two words"}),
        ("@nfs1 auth_pass first\n@nfs2 auth_pass second\n", {"first", "second"}),
        ("    auth_pass\n  }\n", set()),
        ("", set()),
    ],
)
def test_secrets_are_the_auth_pass_values(keepalived, text, secrets):
    assert keepalived._secrets(text) == secrets


def test_mask_replaces_the_longest_secret_first(keepalived):
    lines = ["Unknown keyword 'abcdef'", "clean"]
    assert keepalived._mask(lines, {"abc", "abcdef"}) == ["Unknown keyword '********'", "clean"]


# the JSON dump


@pytest.mark.parametrize(
    "name, state, priority",
    [
        ("keepalived-master.json", "MASTER", 101),
        ("keepalived-backup.json", "BACKUP", 100),
        ("keepalived-fault.json", "FAULT", 100),
    ],
)
def test_parse_dump_of_each_state_has_no_secret(keepalived, name, state, priority):
    text = recorded(f"keepalived/{name}")
    assert SECRET in text
    found = keepalived._parse_dump(text)
    assert (found["VI_1"]["state"], found["VI_1"]["priority"]) == (state, priority)
    assert found["VI_1"]["vips"] == ["10.252.61.10/24"]
    assert SECRET not in repr(found)


def test_parse_dump_master(keepalived):
    assert keepalived._parse_dump(recorded("keepalived/keepalived-master.json")) == MASTER


def test_parse_dump_of_the_lab_recording(keepalived):
    found = keepalived._parse_dump(recorded("keepalived/keepalived.json"))
    assert found["VI_1"]["vrid"] == 101
    assert found["VI_1"]["vips"] == ["10.252.50.10/24"]
    assert found["VI_1"]["interface"] == "eth0"


def test_parse_dump_json_version_2_wraps_the_list(keepalived):
    wrapped = {"vrrp": json.loads(recorded("keepalived/keepalived-master.json"))}
    assert keepalived._parse_dump(json.dumps(wrapped)) == MASTER


@pytest.mark.parametrize("number, state", [(0, "INIT"), (97, "DELETED"), (98, "STOP"), (42, "UNKNOWN")])
def test_parse_dump_maps_state_numbers(keepalived, number, state):
    dump = json.loads(recorded("keepalived/keepalived-master.json"))
    dump[0]["data"]["state"] = number
    del dump[0]["data"]["vips"]  # no virtual_ipaddress block: no key
    found = keepalived._parse_dump(json.dumps(dump))["VI_1"]
    assert (found["state"], found["vips"]) == (state, [])


def test_parse_dump_empty_and_partial(keepalived):
    assert keepalived._parse_dump("[]") == {}
    with pytest.raises(ValueError):
        keepalived._parse_dump(recorded("keepalived/keepalived-master.json")[:500])


# instances, state


def test_instances_signals_the_daemon_and_reads_its_tmpdir(keepalived, daemon):
    assert keepalived.instances(pidfile=str(daemon.pidfile)) == MASTER
    assert daemon.signals == [(4242, 36)]
    # The dump holds the password in clear: it is gone once read.
    assert list(daemon.tmpdir.iterdir()) == []


def test_instances_ignores_a_stale_dump(keepalived, daemon, monkeypatch):
    (daemon.tmpdir / "keepalived.json").write_text(recorded("keepalived/keepalived-fault.json"))
    # The daemon answers the signal a moment later.
    fresh, daemon.dump = daemon.dump, None
    monkeypatch.setattr(
        keepalived.time, "sleep", lambda s: (daemon.tmpdir / "keepalived.json").write_text(fresh)
    )
    assert keepalived.instances(pidfile=str(daemon.pidfile))["VI_1"]["state"] == "MASTER"


def test_instances_tmpdir_argument_wins(keepalived, daemon, tmp_path):
    daemon.tmpdir = tmp_path / "other"
    daemon.tmpdir.mkdir()
    found = keepalived.instances(pidfile=str(daemon.pidfile), tmpdir=str(daemon.tmpdir))
    assert found == MASTER


def test_instances_waits_while_the_dump_is_being_written(keepalived, daemon, monkeypatch):
    full = daemon.dump
    daemon.dump = full[:300]
    sleeps = []

    def sleep(seconds):
        sleeps.append(seconds)
        (daemon.tmpdir / "keepalived.json").write_text(full)

    monkeypatch.setattr(keepalived.time, "sleep", sleep)
    assert keepalived.instances(pidfile=str(daemon.pidfile)) == MASTER
    assert len(sleeps) == 1


def test_instances_times_out_without_a_dump(keepalived, daemon, monkeypatch):
    daemon.dump = None
    monkeypatch.setattr(keepalived, "_DUMP_TIMEOUT", 0.1)
    with pytest.raises(CommandExecutionError, match=r"wrote no complete .*keepalived.json within"):
        keepalived.instances(pidfile=str(daemon.pidfile))


@pytest.mark.parametrize("content", [None, "", "garbage\n", "999999\n"])
def test_instances_not_running(keepalived, daemon, content):
    if content is None:
        daemon.pidfile.unlink()
    else:
        daemon.pidfile.write_text(content)
    with pytest.raises(CommandExecutionError, match="keepalived is not running"):
        keepalived.instances(pidfile=str(daemon.pidfile))
    assert daemon.signals == []


def test_a_stale_pidfile_naming_another_program_is_not_signalled(keepalived, daemon, tmp_path):
    (tmp_path / "proc" / "4242" / "comm").write_text("python3\n")
    assert keepalived.running(pidfile=str(daemon.pidfile)) is False
    with pytest.raises(CommandExecutionError, match="keepalived is not running"):
        keepalived.reload(pidfile=str(daemon.pidfile))
    assert daemon.signals == []


def test_instances_daemon_exits_before_the_signal(keepalived, daemon, monkeypatch):
    def gone(pid, signum):
        raise ProcessLookupError(pid)

    monkeypatch.setattr(keepalived.os, "kill", gone)
    with pytest.raises(CommandExecutionError, match=r"keepalived \(pid 4242\) has exited"):
        keepalived.instances(pidfile=str(daemon.pidfile))


def test_daemon_tmpdir_defaults_to_tmp(keepalived, daemon, tmp_path):
    (tmp_path / "proc" / "4242" / "environ").write_bytes(b"PATH=/usr/bin\0TMPDIR=\0")
    assert keepalived._daemon_tmpdir(4242) == "/tmp"
    assert keepalived._daemon_tmpdir(1) == "/tmp"  # no such /proc entry


def test_state_of_an_instance(keepalived, daemon):
    assert keepalived.state("VI_1", pidfile=str(daemon.pidfile)) == "MASTER"
    with pytest.raises(CommandExecutionError, match="no VRRP instance 'VI_2' \\(it runs: VI_1\\)"):
        keepalived.state("VI_2", pidfile=str(daemon.pidfile))


def test_signum_failure_carries_stderr(keepalived, daemon, run):
    run.reply("keepalived", "--signum=JSON", stderr="Unknown sigfunc JSON", retcode=1)
    with pytest.raises(CommandExecutionError, match="Unknown sigfunc JSON"):
        keepalived.instances(pidfile=str(daemon.pidfile))
    run.reply("keepalived", "--signum=JSON", stdout="\n")
    with pytest.raises(CommandExecutionError, match="gave no number"):
        keepalived.instances(pidfile=str(daemon.pidfile))
    assert daemon.signals == []


# running, reload


def test_running(keepalived, daemon, tmp_path):
    assert keepalived.running(pidfile=str(daemon.pidfile)) is True
    assert keepalived.running(pidfile=str(tmp_path / "none.pid")) is False


def test_reload_sends_the_reload_signal(keepalived, daemon, run):
    assert keepalived.reload(pidfile=str(daemon.pidfile)) is True
    assert daemon.signals == [(4242, 1)]
    assert ["keepalived", "--signum=RELOAD"] in run.calls


def test_reload_not_running(keepalived, daemon, tmp_path):
    with pytest.raises(CommandExecutionError, match="none.pid"):
        keepalived.reload(pidfile=str(tmp_path / "none.pid"))
    assert daemon.signals == []


# holds_vip


@pytest.mark.parametrize(
    "recording, address, held",
    [
        ("ip-addr-vip.json", "10.252.61.10", True),
        ("ip-addr-vip.json", "10.252.61.10/24", True),
        ("ip-addr-vip.json", "fe80::c4be:44ff:fe8d:b15a", True),
        ("ip-addr-vip.json", "10.252.61.2", False),
        ("ip-addr-novip.json", "10.252.61.10", False),
        ("ip-addr-novip.json", "0:0::1", True),
    ],
)
def test_holds_vip(keepalived, run, recording, address, held):
    run.reply("ip", "-j", "addr", stdout=recorded(f"keepalived/{recording}"))
    assert keepalived.holds_vip(address) is held
    assert run.calls == [["ip", "-j", "addr", "show"]]


def test_holds_vip_no_addresses(keepalived, run):
    run.reply("ip", "-j", "addr", stdout="")
    assert keepalived.holds_vip("10.252.61.10") is False


@pytest.mark.parametrize("address", ["vip", "10.252.61.300", "", None])
def test_holds_vip_rejects_a_bad_address(keepalived, run, address):
    with pytest.raises(SaltInvocationError, match=f"address: {address!r} is not an IP address"):
        keepalived.holds_vip(address)
    assert run.calls == []


def test_holds_vip_ip_failure_carries_stderr(keepalived, run):
    run.reply("ip", "-j", "addr", stderr="Cannot open netlink socket", retcode=1)
    with pytest.raises(CommandExecutionError, match="Cannot open netlink socket"):
        keepalived.holds_vip("10.252.61.10")


# write_config


@pytest.fixture
def chowns(keepalived, monkeypatch):
    """chown recorded instead of done: the unit tests need not run as root."""
    calls = []
    monkeypatch.setattr(keepalived.os, "chown", lambda *args: calls.append(args))
    return calls


@pytest.fixture
def live(tmp_path, chowns):
    """A working live config, 0600."""
    path = tmp_path / "etc" / "keepalived.conf"
    path.parent.mkdir()
    path.write_text("working\n")
    path.chmod(0o600)
    return path


NEW = f"vrrp_instance VI_1 {{\n  authentication {{\n    auth_pass {SECRET}\n  }}\n}}\n"


def test_write_config_checks_a_private_copy_then_replaces(keepalived, run, live, chowns):
    seen = {}

    def check(cmd):
        candidate = cmd[4]
        seen["dir"] = os.path.dirname(candidate)
        seen["name"] = os.path.basename(candidate)
        seen["mode"] = stat.S_IMODE(os.stat(candidate).st_mode)
        seen["text"] = open(candidate).read()

    run.reply("keepalived", "-t", **configtest("ka-configtest-valid.txt"), answer=check)
    ret = keepalived.write_config(NEW, path=str(live), config_id="nfs1")
    assert ret == {"valid": True, "messages": []}
    assert run.calls[0][5:] == ["-i", "nfs1"]
    assert seen["dir"] == str(live.parent)
    assert seen["name"].startswith(".keepalived.conf.")
    assert (seen["mode"], seen["text"]) == (0o600, NEW)
    assert chowns == [(os.path.join(seen["dir"], seen["name"]), 0, 0)]
    assert live.read_text() == NEW
    assert stat.S_IMODE(live.stat().st_mode) == 0o600
    assert os.listdir(live.parent) == ["keepalived.conf"]


def test_write_config_refuses_what_keepalived_rejects(keepalived, run, live):
    def reject(cmd):
        # keepalived names the file it checked: the temporary copy.
        stderr = f"({cmd[4]}: Line 4) Unknown keyword '{SECRET}'\n"
        return {"stdout": "", "stderr": stderr, "retcode": 5}

    run.reply("keepalived", "-t", answer=reject)
    with pytest.raises(CommandExecutionError) as exc:
        keepalived.write_config(NEW, path=str(live))
    assert str(exc.value) == (
        f"keepalived -t rejects the new {live}; the file is left unchanged:\n"
        f"({live}: Line 4) Unknown keyword '********'"
    )
    assert live.read_text() == "working\n"
    assert os.listdir(live.parent) == ["keepalived.conf"]


def test_write_config_test_only_checks(keepalived, run, live):
    run.reply("keepalived", "-t", **configtest("ka-configtest-valid.txt"))
    assert keepalived.write_config(NEW, path=str(live), test=True)["valid"] is True
    assert len(run.calls) == 1
    assert live.read_text() == "working\n"
    assert os.listdir(live.parent) == ["keepalived.conf"]


def test_write_config_new_file(keepalived, run, live):
    live.unlink()
    run.reply("keepalived", "-t", **configtest("ka-configtest-valid.txt"))
    keepalived.write_config(NEW, path=str(live))
    assert live.read_text() == NEW
    assert stat.S_IMODE(live.stat().st_mode) == 0o600


def test_write_config_missing_directory(keepalived, run, tmp_path):
    with pytest.raises(CommandExecutionError, match="Cannot write .*/nowhere/keepalived.conf"):
        keepalived.write_config(NEW, path=str(tmp_path / "nowhere" / "keepalived.conf"))
    assert run.calls == []


def test_write_config_chown_failure(keepalived, run, live, monkeypatch):
    def refuse(*args):
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(keepalived.os, "chown", refuse)
    with pytest.raises(CommandExecutionError, match="Cannot write .*Operation not permitted"):
        keepalived.write_config(NEW, path=str(live))
    assert live.read_text() == "working\n"
    assert os.listdir(live.parent) == ["keepalived.conf"]
    assert run.calls == []


# --- set_track_file: a server's VRRP priority changed through a file ---

TRACK_FILE_CONF = """\
vrrp_track_file nfsha_preference {{
  file "{path}"
  weight 1
  init_file 0
}}
vrrp_track_file other {{
  file {other}
}}

vrrp_instance VI_1 {{
  state BACKUP
  track_file {{
    nfsha_preference
  }}
}}
"""


@pytest.fixture
def track_conf(tmp_path):
    conf = tmp_path / "keepalived.conf"
    conf.write_text(TRACK_FILE_CONF.format(path=tmp_path / "pref", other=tmp_path / "other"))
    return conf


def test_track_files_are_found_by_name(keepalived, track_conf, tmp_path):
    assert keepalived._track_files(track_conf.read_text()) == {
        "nfsha_preference": str(tmp_path / "pref"),
        "other": str(tmp_path / "other"),
    }


def test_set_track_file_writes_the_value_and_reports_the_old_one(keepalived, track_conf, tmp_path):
    (tmp_path / "pref").write_text("0\n")
    assert keepalived.set_track_file("nfsha_preference", "154", path=str(track_conf)) == {
        "file": str(tmp_path / "pref"), "old": 0, "new": 154,
    }
    assert (tmp_path / "pref").read_text() == "154\n"
    # keepalived's init_file had not made it yet: no old value.
    assert keepalived.set_track_file("other", -3, path=str(track_conf))["old"] is None
    assert (tmp_path / "other").read_text() == "-3\n"


def test_set_track_file_refuses_what_it_cannot_do(keepalived, track_conf):
    with pytest.raises(SaltInvocationError, match="'high' is not an integer"):
        keepalived.set_track_file("nfsha_preference", "high", path=str(track_conf))
    with pytest.raises(CommandExecutionError, match="has no vrrp_track_file missing"):
        keepalived.set_track_file("missing", 1, path=str(track_conf))


# --- bounded calls -------------------------------------------------------------


def test_every_program_is_bounded(keepalived, run, daemon, tmp_path):
    run.reply("ip", stdout=recorded("keepalived/ip-addr-vip.json"))
    run.reply("keepalived", "-t", **configtest("ka-configtest-valid.txt"))
    keepalived.holds_vip("10.252.61.10")
    keepalived.check_config(str(tmp_path / "keepalived.conf"))
    keepalived.reload(pidfile=str(daemon.pidfile))
    assert [cmd[:2] for cmd in run.calls] == [["ip", "-j"], ["keepalived", "-t"], ["keepalived", "--signum=RELOAD"]]
    assert [options["timeout"] for options in run.options] == [30, 30, 30]


@pytest.mark.parametrize("prefix, call, message", [
    (("ip",), lambda ka, path: ka.holds_vip("10.252.61.10"), "ip addr show did not answer within 30 s"),
    (("keepalived", "-t"), lambda ka, path: ka.check_config(path),
     "keepalived -t did not answer within 30 s"),
    (("keepalived", "--signum=RELOAD"), lambda ka, path: ka._signum("RELOAD"),
     "keepalived --signum=RELOAD did not answer within 30 s"),
])
def test_a_program_that_does_not_answer_is_named_with_its_bound(keepalived, run, tmp_path, prefix, call, message):
    run.reply(*prefix, answer=lambda cmd: timed_out(cmd, 30))
    with pytest.raises(CommandExecutionError) as error:
        call(keepalived, str(tmp_path / "keepalived.conf"))
    assert str(error.value) == message
