"""
The iscsiadm states, run through the real iscsiadm execution module against
a fake iscsiadm that keeps node records and sessions in memory and answers
in open-iscsi 2.1.8's recorded formats (a node record as recorded after
``iscsiadm -m node -o new``; the "No records found" / "No active sessions"
answers with exit code 21; the login failure without iscsid).
"""
import pytest
from tests.conftest import load_salt_module, recorded, timed_out
from tests.unit.test_iscsiadm_module import CONFIGURED

LUN1 = "iqn.2018-08.es.raulpedroche:lun1"
LUN2 = "iqn.2018-08.es.raulpedroche:lun2"
PORTAL = "10.252.50.20:3260"
CHAP = {"username": "nfs-iscsi-user", "password": "secret0"}
MUTUAL = {"username": "debian-iscsi-target", "password": "s3cr3to"}
SECRETS = ("secret0", "s3cr3to")


def _template():
    """The settings of the node record iscsiadm 2.1.8 made with '-o new'."""
    settings = {}
    for line in recorded("open-iscsi/iscsiadm-m-node-T-p-new.txt").splitlines():
        if " = " in line:
            name, _, value = line.partition(" = ")
            settings[name] = "" if value == "<empty>" else value
    return settings


class FakeIscsiadm:
    """cmd.run_all for iscsiadm: node records and sessions in memory."""

    def __init__(self, by_path):
        self.by_path = by_path
        self.records = {}
        self.sessions = []
        self.offered = [LUN1, LUN2]
        self.login_failure = None
        self.broken = None
        # Operations ("discovery", "--login", "--logout") iscsid never
        # answers: cmd.run_all kills iscsiadm at its timeout.
        self.hung = set()
        self.calls = []

    def add_record(self, target, **settings):
        record = _template()
        record["node.name"] = target
        record.update(settings)
        self.records[target, PORTAL] = record

    def __call__(self, argv, **kwargs):
        assert argv[0] == "iscsiadm" and kwargs["python_shell"] is False
        self.calls.append((argv, kwargs))
        if self.broken:
            return self._answer(*self.broken)
        if self.hung & set(argv):
            return timed_out(argv, kwargs["timeout"])
        args = argv[1:]
        if args == ["-m", "session"]:
            if not self.sessions:
                return self._answer(21, stderr="iscsiadm: No active sessions.")
            return self._answer(0, "\n".join(
                f"tcp: [{sid}] {portal},1 {target} (non-flash)"
                for sid, (target, portal) in enumerate(self.sessions, 1)
            ))
        if args[:2] == ["-m", "discovery"]:
            portal = args[5]
            for target in self.offered:
                if (target, portal) not in self.records:
                    self.add_record(target)
            return self._answer(0, "\n".join(f"{portal},1 {target}" for target in self.offered))
        target, portal, rest = args[3], args[5], args[6:]
        record = self.records.get((target, portal))
        if rest == ["--logout"]:
            if (target, portal) not in self.sessions:
                return self._answer(21, stderr="iscsiadm: No matching sessions found")
            self.sessions.remove((target, portal))
            return self._answer(0, "Logout of [...] successful.")
        if record is None:
            return self._answer(21, stderr="iscsiadm: No records found")
        if rest in ([], ["-S"]):
            return self._answer(0, self._render(record, reveal=rest == ["-S"]))
        if rest[:2] == ["-o", "update"]:
            record[rest[3]] = rest[5]
            return self._answer(0)
        assert rest == ["--login"], argv
        if self.login_failure:
            retcode, text = self.login_failure
            return self._answer(retcode, stderr=text)
        self.sessions.append((target, portal))
        # udev makes the by-path link of LUN 1 when the session starts.
        (self.by_path / f"ip-{portal}-iscsi-{target}-lun-1").write_text("")
        return self._answer(0, f"Login to [iface: default, target: {target}, portal: {portal}] successful.")

    @staticmethod
    def _answer(retcode, stdout="", stderr=""):
        return {"retcode": retcode, "stdout": stdout, "stderr": stderr, "pid": 1}

    @staticmethod
    def _render(record, reveal):
        def shown(name, value):
            if not value:
                return "<empty>"
            return value if reveal or not name.endswith(("password", "password_in")) else "********"

        lines = [f"{name} = {shown(name, value)}" for name, value in record.items()]
        return "\n".join(["# BEGIN RECORD 2.1.8", *lines, "# END RECORD"])

    def changing_calls(self):
        return [
            argv for argv, _ in self.calls
            if argv[2] == "discovery" or {"update", "--login", "--logout"} & set(argv)
        ]


@pytest.fixture
def execmod(tmp_path, monkeypatch):
    module = load_salt_module("_modules", "iscsiadm")
    monkeypatch.setattr(module, "BY_PATH", str(tmp_path))
    return module


@pytest.fixture
def state():
    return load_salt_module("_states", "iscsiadm")


@pytest.fixture
def fake(tmp_path):
    return FakeIscsiadm(tmp_path)


@pytest.fixture
def opts():
    return {"test": False}


@pytest.fixture
def configure_loader_modules(execmod, state, fake, opts):
    functions = ("discover", "node_settings", "check_settings", "node_changes", "node_update",
                 "login", "logout", "sessions", "device")
    return {
        execmod: {"__salt__": {"cmd.run_all": fake}},
        state: {
            "__salt__": {f"iscsiadm.{function}": getattr(execmod, function) for function in functions},
            "__opts__": opts,
        },
    }


def logged_in(state, **kwargs):
    args = {"name": LUN1, "portal": "10.252.50.20", "chap": CHAP, "mutual_chap": MUTUAL, "timeout": 0}
    args.update(kwargs)
    return state.node_logged_in(**args)


def assert_no_secret(ret):
    assert not any(secret in repr(ret) for secret in SECRETS), ret


FIRST_RUN_SETTINGS = {
    "node.startup": {"old": "manual", "new": "automatic"},
    "node.session.auth.authmethod": {"old": "None", "new": "CHAP"},
    "node.session.auth.username": {"old": "", "new": "nfs-iscsi-user"},
    "node.session.auth.password": "updated",
    "node.session.auth.username_in": {"old": "", "new": "debian-iscsi-target"},
    "node.session.auth.password_in": "updated",
}


def test_first_run_discovers_configures_logs_in_then_nothing(state, fake, tmp_path):
    ret = logged_in(state)
    assert ret["result"] is True, ret["comment"]
    assert ret["changes"] == {"discovered": True, "settings": FIRST_RUN_SETTINGS, "logged_in": True}
    assert str(tmp_path / f"ip-{PORTAL}-iscsi-{LUN1}-lun-1") in ret["comment"]
    assert_no_secret(ret)
    assert {name: fake.records[LUN1, PORTAL][name] for name in CONFIGURED} == CONFIGURED
    assert fake.sessions == [(LUN1, PORTAL)]
    discoveries = [argv for argv, _ in fake.calls if argv[2] == "discovery"]
    assert discoveries == [["iscsiadm", "-m", "discovery", "-t", "sendtargets", "-p", PORTAL, "-o", "new"]]

    fake.calls.clear()
    again = logged_in(state)
    assert again["result"] is True and again["changes"] == {}, again
    assert "logged in as configured" in again["comment"]
    assert fake.changing_calls() == []


def test_secrets_only_in_quiet_commands(state, fake):
    logged_in(state)
    for argv, kwargs in fake.calls:
        if any(secret in argv for secret in SECRETS) or "-S" in argv:
            assert kwargs["output_loglevel"] == "quiet", argv


def test_test_mode_on_missing_record_touches_nothing(state, fake, opts):
    opts["test"] = True
    ret = logged_in(state)
    assert ret["result"] is None
    assert ret["changes"] == {
        "discovered": True,
        "settings": {name: "updated" for name in CONFIGURED},
        "logged_in": True,
    }
    assert "would be: discovered; updated" in ret["comment"]
    assert fake.records == {} and fake.sessions == []
    assert fake.changing_calls() == []


def test_test_mode_reports_exact_differences(state, fake, opts):
    fake.add_record(LUN1, **dict(CONFIGURED, **{"node.session.auth.password": "old-secret"}))
    opts["test"] = True
    ret = logged_in(state)
    assert ret["result"] is None
    assert ret["changes"] == {"settings": {"node.session.auth.password": "updated"}, "logged_in": True}
    assert "old-secret" not in repr(ret)
    assert_no_secret(ret)
    assert fake.records[LUN1, PORTAL]["node.session.auth.password"] == "old-secret"
    assert fake.changing_calls() == []


def test_test_mode_nothing_to_do(state, fake, opts):
    logged_in(state)
    opts["test"] = True
    ret = logged_in(state)
    assert ret["result"] is True and ret["changes"] == {}


def test_test_mode_logged_in_without_device_yet(state, fake, opts, tmp_path):
    logged_in(state)
    (tmp_path / f"ip-{PORTAL}-iscsi-{LUN1}-lun-1").unlink()
    opts["test"] = True
    ret = logged_in(state)
    assert ret["result"] is None and ret["changes"] == {}
    assert "would wait up to 0 s" in ret["comment"]


def test_existing_record_is_never_rediscovered(state, fake):
    fake.add_record(LUN1)
    ret = logged_in(state)
    assert ret["result"] is True
    assert "discovered" not in ret["changes"]
    assert ret["changes"]["settings"] == FIRST_RUN_SETTINGS
    assert not [argv for argv, _ in fake.calls if argv[2] == "discovery"]


def test_only_differing_settings_are_updated(state, fake):
    fake.add_record(LUN1, **dict(CONFIGURED, **{"node.startup": "manual"}))
    ret = logged_in(state)
    assert ret["changes"] == {"settings": {"node.startup": {"old": "manual", "new": "automatic"}},
                              "logged_in": True}
    updates = [argv[10] for argv, _ in fake.calls if "update" in argv]
    assert updates == ["node.startup"]


def test_settings_changed_on_a_live_session_keep_it(state, fake):
    logged_in(state)
    fake.calls.clear()
    ret = logged_in(state, startup="manual")
    assert ret["result"] is True
    assert ret["changes"] == {"settings": {"node.startup": {"old": "automatic", "new": "manual"}}}
    assert "keeps its old settings until its next login" in ret["comment"]
    assert not [argv for argv, _ in fake.calls if "--logout" in argv or "--login" in argv]


def test_dropping_mutual_chap_clears_incoming_account(state, fake):
    logged_in(state)
    ret = logged_in(state, mutual_chap=None)
    assert ret["changes"] == {"settings": {
        "node.session.auth.username_in": {"old": "debian-iscsi-target", "new": ""},
        "node.session.auth.password_in": "updated",
    }}
    assert fake.records[LUN1, PORTAL]["node.session.auth.password_in"] == ""


def test_no_chap_means_no_authentication(state, fake):
    logged_in(state)
    ret = logged_in(state, chap=None, mutual_chap=None)
    assert ret["changes"] == {"settings": {"node.session.auth.authmethod": {"old": "CHAP", "new": "None"}}}


def test_portal_without_the_target(state, fake):
    fake.offered = [LUN2]
    ret = logged_in(state)
    assert ret["result"] is False
    assert f"discovery at 10.252.50.20 made no record for it (the portal offers: {LUN2})" in ret["comment"]
    assert ret["changes"] == {}


def test_login_failure_reports_what_was_done(state, fake):
    retcode, text = 20, "\n".join(recorded("open-iscsi/iscsiadm-m-node-login.txt").splitlines()[1:-1])
    fake.login_failure = (retcode, text)
    ret = logged_in(state)
    assert ret["result"] is False
    assert "could not connect to iscsid" in ret["comment"]
    assert "done before: discovered; updated" in ret["comment"]
    assert ret["changes"] == {"discovered": True, "settings": FIRST_RUN_SETTINGS}
    assert_no_secret(ret)


def test_waits_for_the_device(state, fake, tmp_path, monkeypatch):
    fake.add_record(LUN1, **CONFIGURED)
    fake.sessions.append((LUN1, PORTAL))
    sleeps = []

    def sleep(seconds):
        sleeps.append(seconds)
        if len(sleeps) == 2:
            (tmp_path / f"ip-{PORTAL}-iscsi-{LUN1}-lun-1").write_text("")

    monkeypatch.setattr(state.time, "sleep", sleep)
    ret = logged_in(state, timeout=30)
    assert ret["result"] is True and ret["changes"] == {}
    assert sleeps == [1, 1]


def test_device_that_never_appears_fails(state, fake):
    ret = logged_in(state, lun=2)
    assert ret["result"] is False
    assert "LUN 2 has no device after 0 s" in ret["comment"]
    assert ret["changes"]["logged_in"] is True


@pytest.mark.parametrize(
    "kwargs, problem",
    [
        ({"startup": "sometimes"}, "startup must be one of automatic, manual, onboot"),
        ({"chap": {"username": "u"}}, "chap must be a dict with exactly the keys username and password"),
        ({"chap": "u:p"}, "chap must be a dict"),
        ({"mutual_chap": {"username": "", "password": "p"}}, "mutual_chap: username must be a non-empty"),
        ({"chap": None}, "mutual_chap needs chap"),
        ({"lun": -1}, "lun must be a LUN number"),
        ({"timeout": "soon"}, "timeout must be a number of seconds"),
        ({"call_timeout": 0}, "call_timeout must be a number of seconds above 0, got 0"),
        ({"login_timeout": "2m"}, "login_timeout must be a number of seconds above 0, got '2m'"),
        ({"chap": {"username": "u", "password": "secret0\nnode.startup = manual"}},
         "node.session.auth.password contains a control character"),
        ({"mutual_chap": {"username": "u", "password": "s3cr3to" * 40}},
         "node.session.auth.password_in is longer than 255"),
    ],
)
def test_bad_arguments_change_nothing(state, fake, kwargs, problem):
    ret = logged_in(state, **kwargs)
    assert ret["result"] is False and ret["changes"] == {}
    assert problem in ret["comment"]
    assert fake.calls == []
    assert_no_secret(ret)


def test_bad_portal_fails_before_changes(state, fake):
    ret = logged_in(state, portal="nas.example")
    assert ret["result"] is False and "portal must be an IP address" in ret["comment"]
    assert fake.calls == []


def test_not_installed_yet(state, opts):
    state.__salt__.clear()
    opts["test"] = True
    ret = logged_in(state)
    assert ret["result"] is None and "open-iscsi is not installed yet" in ret["comment"]
    opts["test"] = False
    ret = logged_in(state)
    assert ret["result"] is False and "open-iscsi is not installed" in ret["comment"]
    assert_no_secret(ret)


def test_iscsiadm_error_fails_the_state(state, fake):
    fake.broken = (6, "", "iscsiadm: Could not read record")
    ret = logged_in(state)
    assert ret["result"] is False and "Could not read record" in ret["comment"]
    assert ret["changes"] == {}
    ret = state.node_logged_out(LUN1, "10.252.50.20")
    assert ret["result"] is False and "Could not read record" in ret["comment"]


def test_logged_out(state, fake, opts):
    logged_in(state)
    opts["test"] = True
    ret = state.node_logged_out(LUN1, "10.252.50.20")
    assert ret["result"] is None and ret["changes"] == {"logged_out": True}
    assert fake.sessions == [(LUN1, PORTAL)]
    opts["test"] = False
    ret = state.node_logged_out(LUN1, "10.252.50.20")
    assert ret["result"] is True and ret["changes"] == {"logged_out": True}
    assert fake.sessions == []
    assert (LUN1, PORTAL) in fake.records
    again = state.node_logged_out(LUN1, "10.252.50.20")
    assert again["result"] is True and again["changes"] == {}
    assert "is not logged in" in again["comment"]


def test_logged_out_other_target_untouched(state, fake):
    logged_in(state)
    ret = state.node_logged_out(LUN2, "10.252.50.20")
    assert ret["changes"] == {} and fake.sessions == [(LUN1, PORTAL)]


def test_logged_out_without_open_iscsi(state):
    state.__salt__.clear()
    ret = state.node_logged_out(LUN1, "10.252.50.20")
    assert ret["result"] is True and ret["changes"] == {}
    assert "not installed" in ret["comment"]


def test_state_loads_without_iscsiadm(state):
    assert state.__virtual__() == "iscsiadm"


# --- bounded calls -------------------------------------------------------------


def test_each_call_gets_its_bound(state, fake):
    assert logged_in(state, call_timeout=4, login_timeout=9)["result"] is True
    bounds = {tuple(argv[1:3] + argv[-1:]): kwargs["timeout"] for argv, kwargs in fake.calls}
    assert bounds[("-m", "discovery", "new")] == 9
    assert bounds[("-m", "node", "--login")] == 9
    assert {bound for (_, mode, last), bound in bounds.items()
            if mode == "session" or last not in ("new", "--login")} == {4}
    fake.calls.clear()
    assert state.node_logged_out(LUN1, "10.252.50.20", call_timeout=4, login_timeout=9)["result"] is True
    assert [(argv[-1], kwargs["timeout"]) for argv, kwargs in fake.calls] == [("session", 4), ("--logout", 9)]


def test_defaults_are_the_execution_module_s(state, fake):
    logged_in(state)
    assert {kwargs["timeout"] for argv, kwargs in fake.calls} == {30, 150}


def test_a_login_iscsid_never_answers_fails_naming_it_and_what_was_done(state, fake):
    fake.hung = {"--login"}
    ret = logged_in(state, login_timeout=9)
    assert ret["result"] is False
    assert ret["comment"] == (
        f"Target {LUN1} at 10.252.50.20: iscsiadm -m node --login did not answer within 9 s "
        "(hung iscsid?) (done before: discovered; updated " + ", ".join(sorted(CONFIGURED)) + ")"
    )
    assert ret["changes"] == {"discovered": True, "settings": FIRST_RUN_SETTINGS}
    assert_no_secret(ret)


def test_a_discovery_iscsid_never_answers_fails_the_state(state, fake):
    fake.hung = {"discovery"}
    ret = logged_in(state, login_timeout=9)
    assert ret["result"] is False and ret["changes"] == {}
    assert ret["comment"] == (
        f"Target {LUN1} at 10.252.50.20: iscsiadm -m discovery -t sendtargets -o new "
        "did not answer within 9 s (hung iscsid?)"
    )


def test_a_logout_iscsid_never_answers_fails(state, fake):
    logged_in(state)
    fake.hung = {"--logout"}
    ret = state.node_logged_out(LUN1, "10.252.50.20", login_timeout=9)
    assert ret == {
        "name": LUN1, "changes": {}, "result": False,
        "comment": f"Target {LUN1} at 10.252.50.20: iscsiadm -m node --logout did not answer "
        "within 9 s (hung iscsid?)",
    }
    assert fake.sessions == [(LUN1, PORTAL)]


def test_logged_out_refuses_a_bound_that_is_none(state, fake):
    ret = state.node_logged_out(LUN1, "10.252.50.20", call_timeout=-1)
    assert ret["result"] is False
    assert ret["comment"] == "Invalid arguments: call_timeout must be a number of seconds above 0, got -1"
    assert fake.calls == []
