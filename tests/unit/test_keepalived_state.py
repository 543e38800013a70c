"""
The keepalived state module with a mocked loader: the file, cp and
keepalived execution functions are fakes over an in-memory file table.
"""
import pytest
from salt.exceptions import CommandExecutionError, SaltRenderError

from tests.conftest import load_salt_module, recorded

SECRET = "s3cr3t0"
LIVE = "/etc/keepalived/keepalived.conf"
TEXT = f"vrrp_instance VI_1 {{\n  authentication {{\n    auth_pass {SECRET}\n  }}\n}}\n"
CONTEXT = {"priority": 101}


class Host:
    """The minion as the state sees it through __salt__."""

    def __init__(self):
        self.files = {}  # path: {"text", "mode", "uid", "gid"}
        self.calls = []
        self.is_running = True
        self.reject = None  # a CommandExecutionError for write_config to raise
        self.reload_error = None
        self.states = []  # what keepalived.instances answers, call by call

    def record(self, name, *args, **kwargs):
        self.calls.append((name, args, kwargs))

    def called(self, name):
        return [call for call in self.calls if call[0] == name]

    def salt(self):
        def file_exists(path):
            return path in self.files

        def read(path):
            return self.files[path]["text"]

        def stats(path):
            entry = self.files[path]
            return {"mode": entry["mode"], "uid": entry["uid"], "gid": entry["gid"]}

        def remove(path):
            self.record("file.remove", path)
            del self.files[path]

        def apply_template_on_contents(contents, template, context, defaults, saltenv):
            kwargs = {"template": template, "context": context, "defaults": defaults}
            self.record("file.apply_template_on_contents", contents, **kwargs, saltenv=saltenv)
            return contents.replace("{{ priority }}", str({**defaults, **context}["priority"]))

        def get_managed(name, template, source, *args):
            self.record("file.get_managed", name, template, source, *args)
            context, defaults = args[7], args[8]
            defaults.update(context or {})  # as Salt's does: in place
            if source == "salt://missing":
                return "", {}, f"Source file {source} not found in saltenv 'base'"
            self.files["/tmp/__salt.tmp.rendered"] = {"text": TEXT, "mode": "0600", "uid": 0, "gid": 0}
            return "/tmp/__salt.tmp.rendered", {}, ""

        def get_file_str(path, saltenv):
            self.record("cp.get_file_str", path, saltenv=saltenv)
            return TEXT if path == "salt://keepalived.conf" else False

        def write_config(contents, path, config_id, test):
            self.record("keepalived.write_config", contents, path=path, config_id=config_id, test=test)
            if self.reject:
                raise self.reject
            if not test:
                self.files[path] = {"text": contents, "mode": "0600", "uid": 0, "gid": 0}
            return {"valid": True, "messages": []}

        def running(pidfile):
            self.record("keepalived.running", pidfile)
            return self.is_running

        def reload(pidfile):
            self.record("keepalived.reload", pidfile)
            if self.reload_error:
                raise self.reload_error
            return True

        def instances(pidfile, tmpdir):
            self.record("keepalived.instances", pidfile=pidfile, tmpdir=tmpdir)
            answer = self.states.pop(0) if len(self.states) > 1 else self.states[0]
            if isinstance(answer, Exception):
                raise answer
            return {} if answer is None else {"VI_1": {"state": answer}}

        return {
            "file.file_exists": file_exists,
            "file.read": read,
            "file.stats": stats,
            "file.remove": remove,
            "file.apply_template_on_contents": apply_template_on_contents,
            "file.get_managed": get_managed,
            "cp.get_file_str": get_file_str,
            "keepalived.write_config": write_config,
            "keepalived.running": running,
            "keepalived.reload": reload,
            "keepalived.instances": instances,
        }


@pytest.fixture
def keepalived():
    return load_salt_module("_states", "keepalived")


@pytest.fixture
def host():
    return Host()


@pytest.fixture
def salt(host):
    return host.salt()


@pytest.fixture
def opts():
    return {"test": False}


@pytest.fixture
def configure_loader_modules(keepalived, salt, opts):
    return {keepalived: {"__salt__": salt, "__opts__": opts, "__env__": "base"}}


@pytest.fixture
def no_keepalived(salt):
    """keepalived not installed: its execution module is not loaded."""
    for name in [name for name in salt if name.startswith("keepalived.")]:
        del salt[name]


def config(keepalived, **kwargs):
    kwargs.setdefault("name", LIVE)
    if "source" not in kwargs:
        kwargs.setdefault("contents", TEXT)
        kwargs.setdefault("template", None)
    ret = keepalived.config(**kwargs)
    # Whatever happens, the password never shows.
    assert SECRET not in repr(ret)
    return ret


def test_virtual_loads_without_keepalived(keepalived, no_keepalived):
    assert keepalived.__virtual__() == "keepalived"


# config: arguments


@pytest.mark.parametrize(
    "kwargs, comment",
    [
        ({"name": "keepalived.conf"}, "name: 'keepalived.conf' is not an absolute path"),
        ({"source": "salt://k.conf", "contents": TEXT}, "source, contents: give exactly one of them"),
        ({"contents": None}, "source, contents: give exactly one of them"),
    ],
)
def test_config_bad_arguments_change_nothing(keepalived, host, kwargs, comment):
    ret = config(keepalived, **kwargs)
    assert (ret["result"], ret["comment"], ret["changes"]) == (False, comment, {})
    assert host.calls == []


# config: writing


def test_config_new_file_daemon_not_running(keepalived, host):
    host.is_running = False
    ret = config(keepalived, config_id="nfs1", pidfile="/run/ka.pid")
    assert ret["result"] is True
    assert ret["changes"] == {"config": "updated"}
    assert ret["comment"] == f"{LIVE} updated; keepalived is not running, nothing to reload"
    assert host.called("keepalived.write_config") == [
        ("keepalived.write_config", (TEXT,), {"path": LIVE, "config_id": "nfs1", "test": False})
    ]
    assert host.called("keepalived.running") == [("keepalived.running", ("/run/ka.pid",), {})]
    assert host.called("keepalived.reload") == []


def test_config_change_reloads_a_running_daemon(keepalived, host):
    host.files[LIVE] = {"text": "old\n", "mode": "0600", "uid": 0, "gid": 0}
    ret = config(keepalived, pidfile="/run/ka.pid")
    assert (ret["result"], ret["changes"]) == (True, {"config": "updated", "reloaded": True})
    assert ret["comment"] == f"{LIVE} updated; keepalived reloaded"
    assert host.called("keepalived.reload") == [("keepalived.reload", ("/run/ka.pid",), {})]
    assert host.files[LIVE]["text"] == TEXT


def test_config_second_run_changes_nothing(keepalived, host):
    config(keepalived)
    host.calls.clear()
    ret = config(keepalived)
    assert (ret["result"], ret["changes"]) == (True, {})
    assert ret["comment"] == f"{LIVE} is as configured"
    assert host.called("keepalived.write_config") == []
    assert host.called("keepalived.reload") == []


def test_config_reload_false(keepalived, host):
    ret = config(keepalived, reload=False)
    assert (ret["result"], ret["changes"]) == (True, {"config": "updated"})
    assert ret["comment"] == f"{LIVE} updated"
    assert host.called("keepalived.reload") == []


def test_config_rejected_by_keepalived_fails_and_keeps_the_file(keepalived, host):
    host.files[LIVE] = {"text": "working\n", "mode": "0600", "uid": 0, "gid": 0}
    host.reject = CommandExecutionError(
        f"keepalived -t rejects the new {LIVE}; the file is left unchanged:\n"
        f"({LIVE}: Line 4) Unknown keyword '********'"
    )
    ret = config(keepalived)
    assert (ret["result"], ret["changes"]) == (False, {})
    assert ret["comment"] == str(host.reject)
    assert host.files[LIVE]["text"] == "working\n"
    assert host.called("keepalived.reload") == []


def test_config_reload_failure_reports_the_written_file(keepalived, host):
    host.reload_error = CommandExecutionError("keepalived (pid 4242) has exited")
    ret = config(keepalived)
    assert (ret["result"], ret["changes"]) == (False, {"config": "updated"})
    assert ret["comment"] == (
        f"{LIVE} updated, but keepalived was not reloaded: keepalived (pid 4242) has exited"
    )


@pytest.mark.parametrize(
    "entry, changes",
    [
        ({"mode": "0644", "uid": 0, "gid": 0}, {"mode": "0600"}),
        ({"mode": "0600", "uid": 1000, "gid": 0}, {"owner": "root:root"}),
        ({"mode": "0640", "uid": 0, "gid": 4}, {"mode": "0600", "owner": "root:root"}),
    ],
)
def test_config_fixes_mode_and_owner_without_reload(keepalived, host, entry, changes):
    host.files[LIVE] = {"text": TEXT, **entry}
    ret = config(keepalived)
    assert (ret["result"], ret["changes"]) == (True, changes)
    assert ret["comment"] == f"{LIVE} updated"
    assert len(host.called("keepalived.write_config")) == 1
    assert host.called("keepalived.reload") == []
    assert host.files[LIVE]["mode"] == "0600"


def test_config_text_and_mode_change_together(keepalived, host):
    host.files[LIVE] = {"text": "old\n", "mode": "0644", "uid": 0, "gid": 0}
    ret = config(keepalived)
    assert ret["changes"] == {"config": "updated", "mode": "0600", "reloaded": True}


# config: test=True


def test_config_test_reports_and_writes_nothing(keepalived, host, opts):
    opts["test"] = True
    host.files[LIVE] = {"text": "old\n", "mode": "0600", "uid": 0, "gid": 0}
    ret = config(keepalived)
    assert ret["result"] is None
    assert ret["changes"] == {"config": "updated", "reloaded": True}
    assert ret["comment"] == (
        f"{LIVE} would be updated (keepalived -t accepts it); keepalived would be reloaded"
    )
    assert host.called("keepalived.write_config")[0][2]["test"] is True
    assert host.files[LIVE]["text"] == "old\n"
    assert host.called("keepalived.reload") == []


def test_config_test_still_fails_a_rejected_config(keepalived, host, opts):
    opts["test"] = True
    host.reject = CommandExecutionError("keepalived -t rejects the new ...")
    ret = config(keepalived)
    assert (ret["result"], ret["changes"]) == (False, {})


def missing_script_rejection():
    """keepalived -t on a config whose track script's program does not exist
    yet (tests/recorded/keepalived/ka-configtest-missing-script.txt)."""
    *lines, _ = recorded("keepalived/ka-configtest-missing-script.txt").splitlines()
    return rejection(lines)


def rejection(messages):
    """write_config's error: the messages also as its ``messages``."""
    error = CommandExecutionError("keepalived -t rejects the new ...")
    error.messages = messages
    return error


def test_config_test_plans_around_track_scripts_still_to_come(keepalived, host, opts):
    # A new server under test=True: the file state that writes the NFS
    # check has not run, so keepalived -t cannot find it.
    opts["test"] = True
    host.is_running = False
    host.reject = missing_script_rejection()
    ret = config(keepalived)
    assert (ret["result"], ret["changes"]) == (None, {"config": "updated"})
    assert ret["comment"] == (
        f"{LIVE} would be updated (keepalived -t accepts it once its track scripts exist: check_nfs);"
        " keepalived is not running, nothing to reload"
    )


def test_config_fails_on_a_missing_track_script_for_real(keepalived, host):
    host.reject = missing_script_rejection()
    ret = config(keepalived)
    assert (ret["result"], ret["changes"]) == (False, {})
    assert LIVE not in host.files


def test_config_test_fails_on_anything_else_than_scripts_to_come(keepalived, host, opts):
    opts["test"] = True
    host.reject = rejection([
        "Disabling track script check_nfs since not found/accessible",
        "(/etc/keepalived/keepalived.conf: Line 14) number '300' outside range [1, 255]",
    ])
    assert config(keepalived)["result"] is False


def test_config_test_before_keepalived_is_installed(keepalived, host, opts, no_keepalived):
    opts["test"] = True
    ret = config(keepalived)
    assert (ret["result"], ret["changes"]) == (None, {"config": "updated"})
    assert ret["comment"] == (
        f"keepalived is not installed yet; {LIVE} would be written after its "
        "installation (keepalived -t cannot check it before)"
    )
    assert LIVE not in host.files


def test_config_without_keepalived_fails(keepalived, host, no_keepalived):
    ret = config(keepalived)
    assert (ret["result"], ret["changes"]) == (False, {})
    assert ret["comment"] == f"keepalived is not installed, so {LIVE} cannot be checked and is not written"
    assert LIVE not in host.files


def test_config_unchanged_needs_no_keepalived(keepalived, host, no_keepalived):
    host.files[LIVE] = {"text": TEXT, "mode": "0600", "uid": 0, "gid": 0}
    assert config(keepalived)["result"] is True


# config: rendering


def test_config_contents_rendered_with_context_over_defaults(keepalived, host):
    defaults = {"priority": 100}
    ret = config(
        keepalived,
        contents="priority {{ priority }}\n",
        template="jinja",
        context=CONTEXT,
        defaults=defaults,
    )
    assert ret["result"] is True
    assert host.files[LIVE]["text"] == "priority 101\n"
    (call,) = host.called("file.apply_template_on_contents")
    assert call[2] == {"template": "jinja", "context": CONTEXT, "defaults": defaults, "saltenv": "base"}


def test_config_source_template_goes_through_get_managed(keepalived, host):
    defaults = {"priority": 100}
    ret = config(keepalived, source="salt://keepalived.conf.jinja", context=CONTEXT, defaults=defaults)
    assert (ret["result"], ret["changes"]) == (True, {"config": "updated", "reloaded": True})
    (call,) = host.called("file.get_managed")
    assert call[1][:3] == (LIVE, "jinja", "salt://keepalived.conf.jinja")
    assert call[1][9:12] == ("base", CONTEXT, {"priority": 101})
    assert call[1][5:8] == ("root", "root", "0600")
    assert defaults == {"priority": 100}  # the caller's dict is not merged into
    assert host.files[LIVE]["text"] == TEXT
    # The rendered copy holds the password: it is removed.
    assert host.called("file.remove") == [("file.remove", ("/tmp/__salt.tmp.rendered",), {})]
    assert "/tmp/__salt.tmp.rendered" not in host.files


def test_config_source_without_template_is_copied(keepalived, host):
    ret = config(keepalived, source="salt://keepalived.conf", template=None)
    assert ret["result"] is True
    assert host.called("cp.get_file_str") == [
        ("cp.get_file_str", ("salt://keepalived.conf",), {"saltenv": "base"})
    ]
    assert host.files[LIVE]["text"] == TEXT


@pytest.mark.parametrize(
    "kwargs, error",
    [
        ({"source": "salt://nothing", "template": None}, "source salt://nothing not found"),
        ({"source": "salt://missing"}, "Source file salt://missing not found in saltenv 'base'"),
    ],
)
def test_config_missing_source(keepalived, host, kwargs, error):
    ret = config(keepalived, **kwargs)
    assert (ret["result"], ret["comment"], ret["changes"]) == (False, f"Cannot render {LIVE}: {error}", {})
    assert host.called("keepalived.write_config") == []


def test_config_render_error_masks_the_password(keepalived, host, salt):
    def broken(*args, **kwargs):
        raise SaltRenderError(
            "Jinja syntax error: unexpected '}'; line 3\n\n---\n"
            f"    auth_pass {SECRET}    <======================\n  }}}}\n---"
        )

    salt["file.apply_template_on_contents"] = broken
    ret = config(keepalived, template="jinja")
    assert ret["result"] is False
    assert ret["comment"].startswith(f"Cannot render {LIVE}: Jinja syntax error")
    assert "auth_pass ********" in ret["comment"]
    assert host.called("keepalived.write_config") == []


def test_config_unsupported_template(keepalived, host, salt):
    salt["file.apply_template_on_contents"] = lambda *args, **kwargs: {
        "result": False,
        "comment": "Specified template format nope is not supported",
    }
    ret = config(keepalived, template="nope")
    assert (ret["result"], ret["comment"]) == (
        False,
        f"Cannot render {LIVE}: Specified template format nope is not supported",
    )


# instance_state


@pytest.fixture
def no_sleep(keepalived, monkeypatch):
    monkeypatch.setattr(keepalived, "_POLL", 0)


def test_instance_state_waits_until_reached(keepalived, host, no_sleep):
    host.states = ["BACKUP", "BACKUP", "MASTER"]
    ret = keepalived.instance_state("VI_1", pidfile="/run/ka.pid", tmpdir="/run/ka")
    assert ret == {"name": "VI_1", "changes": {}, "result": True, "comment": "VRRP instance VI_1 is MASTER"}
    assert host.called("keepalived.instances") == [
        ("keepalived.instances", (), {"pidfile": "/run/ka.pid", "tmpdir": "/run/ka"})
    ] * 3


def test_instance_state_accepts_a_list(keepalived, host, no_sleep):
    host.states = ["FAULT"]
    ret = keepalived.instance_state("VI_1", vrrp_state=["BACKUP", "FAULT"])
    assert (ret["result"], ret["comment"]) == (True, "VRRP instance VI_1 is FAULT")


def test_instance_state_survives_a_daemon_error(keepalived, host, no_sleep):
    host.states = [CommandExecutionError("keepalived is not running"), "MASTER"]
    assert keepalived.instance_state("VI_1")["result"] is True


@pytest.mark.parametrize(
    "answer, last",
    [
        ("BACKUP", "BACKUP"),
        (None, "no such instance"),
        (CommandExecutionError("keepalived is not running"), "keepalived is not running"),
    ],
)
def test_instance_state_times_out_with_the_last_state(keepalived, host, no_sleep, answer, last):
    host.states = [answer]
    ret = keepalived.instance_state("VI_1", vrrp_state="MASTER", timeout=0.05)
    assert ret["result"] is False
    assert ret["comment"] == f"VRRP instance VI_1 did not become MASTER within 0.05 s; last seen: {last}"
    assert len(host.called("keepalived.instances")) > 1


def test_instance_state_test_does_not_wait(keepalived, host, opts):
    opts["test"] = True
    ret = keepalived.instance_state("VI_1", vrrp_state=["MASTER", "BACKUP"], timeout=60)
    assert (ret["result"], ret["changes"]) == (None, {})
    assert ret["comment"] == "Would wait up to 60 s for VRRP instance VI_1 to be MASTER or BACKUP"
    assert host.calls == []


NOT_A_STATE = "is not one of MASTER, BACKUP, FAULT, INIT, STOP or a list of them"


@pytest.mark.parametrize(
    "kwargs, comment",
    [
        ({"vrrp_state": "master"}, f"vrrp_state: 'master' {NOT_A_STATE}"),
        ({"vrrp_state": []}, f"vrrp_state: [] {NOT_A_STATE}"),
        ({"vrrp_state": ["MASTER", "UP"]}, f"vrrp_state: ['MASTER', 'UP'] {NOT_A_STATE}"),
        ({"vrrp_state": None}, f"vrrp_state: None {NOT_A_STATE}"),
        ({"timeout": 0}, "timeout: 0 is not a positive number of seconds"),
        ({"timeout": "30"}, "timeout: '30' is not a positive number of seconds"),
        ({"timeout": True}, "timeout: True is not a positive number of seconds"),
    ],
)
def test_instance_state_bad_arguments(keepalived, host, kwargs, comment):
    ret = keepalived.instance_state("VI_1", **kwargs)
    assert (ret["result"], ret["comment"]) == (False, comment)
    assert host.calls == []


def test_instance_state_without_keepalived(keepalived, host, opts, no_keepalived):
    ret = keepalived.instance_state("VI_1")
    assert (ret["result"], ret["comment"]) == (
        False,
        "keepalived is not installed; cannot wait up to 30 s for VRRP instance VI_1 to be MASTER",
    )
    opts["test"] = True
    ret = keepalived.instance_state("VI_1")
    assert (ret["result"], ret["comment"]) == (
        None,
        "keepalived is not installed yet; would wait up to 30 s for VRRP instance VI_1 to be MASTER",
    )
