"""
The iscsiadm execution module on outputs recorded from open-iscsi 2.1.8:
parsing, the argument lists it runs, exit codes that are answers (21: none
found, 15: session exists), errors carrying iscsiadm's stderr, and secrets
kept out of logs, results and errors.
"""
import pytest
from tests.conftest import load_salt_module, recorded, timed_out
from salt.exceptions import CommandExecutionError, SaltInvocationError

LUN1 = "iqn.2018-08.es.raulpedroche:lun1"
PORTAL = "10.252.50.20:3260"
NODE = ["iscsiadm", "-m", "node", "-T", LUN1, "-p", PORTAL]
SECRETS = ("secret0", "s3cr3to")


def capture(name):
    """(retcode, text) of a recorded capture: notes, '$ command', output, 'rc=N'."""
    lines = recorded(f"open-iscsi/{name}").splitlines()
    start = next(number for number, line in enumerate(lines) if line.startswith("$ "))
    assert lines[-1].startswith("rc="), name
    # Some captures add the run time: "rc=12 (1.037417407 s)".
    return int(lines[-1][3:].split()[0]), "\n".join(lines[start + 1 : -1])


class FakeRunAll:
    """cmd.run_all answering each argument list from a recorded capture."""

    def __init__(self):
        self.answers = {}
        self.calls = []

    def answer(self, argv, name=None, retcode=0, stdout="", stderr=""):
        if name:
            retcode, text = capture(name)
            # The captures merge both streams; failures are told on stderr.
            stdout, stderr = (text, "") if retcode == 0 else ("", text)
        self.answers[tuple(argv)] = {"retcode": retcode, "stdout": stdout, "stderr": stderr}

    def __call__(self, argv, **kwargs):
        self.calls.append((argv, kwargs))
        assert tuple(argv) in self.answers, f"unexpected command {argv}"
        return dict(self.answers[tuple(argv)], pid=1)

    def argvs(self):
        return [argv for argv, _ in self.calls]


@pytest.fixture
def iscsiadm():
    return load_salt_module("_modules", "iscsiadm")


@pytest.fixture
def run():
    return FakeRunAll()


@pytest.fixture
def configure_loader_modules(iscsiadm, run):
    return {iscsiadm: {"__salt__": {"cmd.run_all": run}}}


def test_virtual_needs_iscsiadm(iscsiadm, monkeypatch):
    monkeypatch.setattr(iscsiadm.salt.utils.path, "which", lambda cmd: None)
    loaded, reason = iscsiadm.__virtual__()
    assert loaded is False and "open-iscsi" in reason
    monkeypatch.setattr(iscsiadm.salt.utils.path, "which", lambda cmd: f"/usr/sbin/{cmd}")
    assert iscsiadm.__virtual__() == "iscsiadm"


def test_initiator_name_from_debian_file(iscsiadm, monkeypatch, tmp_path):
    path = tmp_path / "initiatorname.iscsi"
    path.write_text(recorded("open-iscsi/initiatorname.iscsi"))
    monkeypatch.setattr(iscsiadm, "INITIATOR_NAME_FILE", str(path))
    assert iscsiadm.initiator_name() == "iqn.1993-08.org.debian:01:60d1edfa24f3"


@pytest.mark.parametrize(
    "text", ["", "## comments only\n", "GenerateName=yes\n", "InitiatorName=\n"]
)
def test_initiator_name_none_without_a_name(iscsiadm, monkeypatch, tmp_path, text):
    path = tmp_path / "initiatorname.iscsi"
    path.write_text(text)
    monkeypatch.setattr(iscsiadm, "INITIATOR_NAME_FILE", str(path))
    assert iscsiadm.initiator_name() is None


def test_initiator_name_none_without_file(iscsiadm, monkeypatch, tmp_path):
    monkeypatch.setattr(iscsiadm, "INITIATOR_NAME_FILE", str(tmp_path / "missing"))
    assert iscsiadm.initiator_name() is None


def test_nodes(iscsiadm, run):
    run.answer(["iscsiadm", "-m", "node"], "iscsiadm-m-node.txt")
    assert iscsiadm.nodes() == [
        {"target": LUN1, "portal": PORTAL, "tpgt": 1},
        {"target": "iqn.2018-08.es.raulpedroche:lun2", "portal": PORTAL, "tpgt": 1},
    ]
    assert run.calls[0][1]["python_shell"] is False


def test_nodes_record_without_tpgt_is_minus_one(iscsiadm, run):
    run.answer(["iscsiadm", "-m", "node"], "iscsiadm-m-node-notpgt.txt")
    assert [node["tpgt"] for node in iscsiadm.nodes()] == [1, -1]


def test_nodes_none(iscsiadm, run):
    run.answer(["iscsiadm", "-m", "node"], "iscsiadm-m-node-none.txt")
    assert iscsiadm.nodes() == []


DISCOVER = ["iscsiadm", "-m", "discovery", "-t", "sendtargets", "-p", PORTAL, "-o", "new"]


def test_discover_adds_only_new_records(iscsiadm, run):
    # Discovery prints the same flat "portal,tpgt target" lines as "-m node".
    run.answer(DISCOVER, "iscsiadm-m-node.txt")
    found = iscsiadm.discover("10.252.50.20")
    assert [item["target"] for item in found] == [LUN1, "iqn.2018-08.es.raulpedroche:lun2"]
    assert run.argvs() == [DISCOVER]


def test_discover_nothing_offered(iscsiadm, run):
    run.answer(DISCOVER, retcode=21, stderr="iscsiadm: No portals found")
    assert iscsiadm.discover(PORTAL) == []


def test_discover_error_carries_stderr(iscsiadm, run):
    run.answer(DISCOVER, "iscsiadm-m-discovery-o-new-nodriver.txt")
    with pytest.raises(CommandExecutionError, match="iSCSI driver not found"):
        iscsiadm.discover(PORTAL)


def test_node_settings_masked_record(iscsiadm, run):
    run.answer(NODE, "iscsiadm-m-node-T-p.txt")
    settings = iscsiadm.node_settings(LUN1, "10.252.50.20")
    assert settings["node.startup"] == "automatic"
    assert settings["node.session.auth.username"] == "nfs-iscsi-user"
    assert settings["node.session.auth.password"] == "********"
    assert settings["node.session.auth.password_in"] == "********"
    assert settings["iface.net_ifacename"] == ""
    assert settings["node.conn[0].port"] == "3260"
    assert len(settings) == 107


def test_node_settings_masks_secrets_itself(iscsiadm, run):
    # Even a record printed in clear (-S) comes back masked.
    run.answer(NODE, "iscsiadm-m-node-T-p-S.txt")
    settings = iscsiadm.node_settings(LUN1, PORTAL)
    assert settings["node.session.auth.password"] == "********"
    assert settings["node.session.auth.password_in"] == "********"
    assert not set(SECRETS) & set(settings.values())


def test_node_settings_empty_password_stays_empty(iscsiadm, run):
    run.answer(NODE, "iscsiadm-m-node-T-p-new.txt")
    settings = iscsiadm.node_settings(LUN1, PORTAL)
    assert settings["node.session.auth.password"] == ""
    assert settings["node.session.auth.authmethod"] == "None"
    assert settings["node.startup"] == "manual"


def test_node_settings_filtered_record(iscsiadm, run):
    # Recorded without its '$ command' line and with <empty> lines left out.
    run.answer(NODE, stdout=recorded("open-iscsi/iscsi-node-lun1-before-update.txt"))
    settings = iscsiadm.node_settings(LUN1, PORTAL)
    assert settings["iface.iscsi_ifacename"] == "pbB"
    assert "node.session.auth.password" not in settings


def test_node_settings_missing_record(iscsiadm, run):
    run.answer(NODE, "iscsiadm-m-node-T-p-missing.txt")
    assert iscsiadm.node_settings(LUN1, PORTAL) is None


def test_node_settings_refuses_several_iface_records(iscsiadm, run):
    run.answer(NODE, "iscsiadm-m-node-T-p-2ifaces.txt")
    with pytest.raises(CommandExecutionError, match=r"2 node records \(ifaces default, pbB\)"):
        iscsiadm.node_settings(LUN1, PORTAL)


@pytest.mark.parametrize("target", ["", "lun1", "iqn.x y", None, 5])
def test_bad_target_named_before_running(iscsiadm, run, target):
    with pytest.raises(SaltInvocationError, match="^target: .* is not an iSCSI name"):
        iscsiadm.node_settings(target, PORTAL)
    assert run.calls == []


@pytest.mark.parametrize(
    "portal, expected",
    [
        ("10.252.50.20", "10.252.50.20:3260"),
        ("10.252.50.20:3261", "10.252.50.20:3261"),
        ("fd00::20", "[fd00::20]:3260"),
        ("[fd00::20]", "[fd00::20]:3260"),
        ("[fd00:0::20]:3261", "[fd00::20]:3261"),
    ],
)
def test_portal_forms(iscsiadm, run, portal, expected):
    run.answer(["iscsiadm", "-m", "node", "-T", LUN1, "-p", expected], "iscsiadm-m-node-T-p-missing.txt")
    assert iscsiadm.node_settings(LUN1, portal) is None


@pytest.mark.parametrize(
    "portal",
    ["", "target.example", "10.252.50.20:0", "10.252.50.20:65536", "10.252.50", "[10.0.0.1]:3260",
     "10.0.0.1:x", None],
)
def test_bad_portal_named_before_running(iscsiadm, run, portal):
    with pytest.raises(SaltInvocationError, match="portal must be an IP address"):
        iscsiadm.node_settings(LUN1, portal)
    assert run.calls == []


CONFIGURED = {
    "node.startup": "automatic",
    "node.session.auth.authmethod": "CHAP",
    "node.session.auth.username": "nfs-iscsi-user",
    "node.session.auth.password": "secret0",
    "node.session.auth.username_in": "debian-iscsi-target",
    "node.session.auth.password_in": "s3cr3to",
}


def test_node_changes_none_when_record_matches(iscsiadm, run):
    run.answer(NODE + ["-S"], "iscsiadm-m-node-T-p-S.txt")
    assert iscsiadm.node_changes(LUN1, PORTAL, CONFIGURED) == {}
    # The clear-text read is kept out of Salt's logs.
    assert run.calls[0][1]["output_loglevel"] == "quiet"


def test_node_changes_names_secrets_only(iscsiadm, run):
    run.answer(NODE + ["-S"], "iscsiadm-m-node-T-p-S.txt")
    wanted = dict(CONFIGURED, **{"node.session.auth.password": "n3w-s3cret", "node.startup": "manual",
                                 "node.session.timeo.replacement_timeout": 5})
    changes = iscsiadm.node_changes(LUN1, PORTAL, wanted)
    assert changes == {
        "node.session.auth.password": "updated",
        "node.startup": {"old": "automatic", "new": "manual"},
        "node.session.timeo.replacement_timeout": {"old": "120", "new": "5"},
    }
    assert not any(secret in repr(changes) for secret in (*SECRETS, "n3w-s3cret"))


def test_node_changes_clearing_a_secret(iscsiadm, run):
    run.answer(NODE + ["-S"], "iscsiadm-m-node-T-p-S.txt")
    changes = iscsiadm.node_changes(
        LUN1, PORTAL, {"node.session.auth.username_in": "", "node.session.auth.password_in": ""}
    )
    assert changes == {
        "node.session.auth.username_in": {"old": "debian-iscsi-target", "new": ""},
        "node.session.auth.password_in": "updated",
    }


def test_node_changes_unknown_setting(iscsiadm, run):
    run.answer(NODE + ["-S"], "iscsiadm-m-node-T-p-S.txt")
    with pytest.raises(SaltInvocationError, match="node.session.auth.bogus not in the node record"):
        iscsiadm.node_changes(LUN1, PORTAL, {"node.session.auth.bogus": "x"})


def test_node_changes_missing_record(iscsiadm, run):
    run.answer(NODE + ["-S"], "iscsiadm-m-node-T-p-missing.txt")
    with pytest.raises(CommandExecutionError, match="no node record"):
        iscsiadm.node_changes(LUN1, PORTAL, {"node.startup": "automatic"})


def test_node_update_one_call_per_setting_secrets_quiet(iscsiadm, run):
    for name, value in CONFIGURED.items():
        run.answer(NODE + ["-o", "update", "-n", name, "-v", value])
    assert iscsiadm.node_update(LUN1, PORTAL, CONFIGURED) == sorted(CONFIGURED)
    levels = {argv[10]: kwargs["output_loglevel"] for argv, kwargs in run.calls}
    assert levels == {
        "node.startup": "debug",
        "node.session.auth.authmethod": "debug",
        "node.session.auth.username": "debug",
        "node.session.auth.password": "quiet",
        "node.session.auth.username_in": "debug",
        "node.session.auth.password_in": "quiet",
    }
    assert all(kwargs["python_shell"] is False for _, kwargs in run.calls)


def test_node_update_error_carries_stderr(iscsiadm, run):
    run.answer(NODE + ["-o", "update", "-n", "node.session.auth.bogus", "-v", "x"],
               "iscsiadm-m-node-update-badname.txt")
    with pytest.raises(CommandExecutionError, match="Invalid param name"):
        iscsiadm.node_update(LUN1, PORTAL, {"node.session.auth.bogus": "x"})


def test_node_update_value_refused_by_iscsiadm(iscsiadm, run):
    run.answer(NODE + ["-o", "update", "-n", "node.startup", "-v", "sometimes"],
               "iscsiadm-m-node-update-badvalue.txt")
    with pytest.raises(CommandExecutionError, match="unknown value format 'sometimes'"):
        iscsiadm.node_update(LUN1, PORTAL, {"node.startup": "sometimes"})


def test_node_update_missing_record(iscsiadm, run):
    run.answer(NODE + ["-o", "update", "-n", "node.startup", "-v", "automatic"],
               "iscsiadm-m-node-update-missing.txt")
    with pytest.raises(CommandExecutionError, match="No records found"):
        iscsiadm.node_update(LUN1, PORTAL, {"node.startup": "automatic"})


def test_node_update_masks_secret_in_error(iscsiadm, run):
    # iscsiadm quotes rejected values (see iscsiadm-m-node-update-badvalue.txt).
    run.answer(NODE + ["-o", "update", "-n", "node.session.auth.password", "-v", "secret0"], retcode=7,
               stderr="iscsiadm: unknown value format 'secret0' for parameter name "
                      "'node.session.auth.password'")
    with pytest.raises(CommandExecutionError) as error:
        iscsiadm.node_update(LUN1, PORTAL, {"node.session.auth.password": "secret0"})
    assert "secret0" not in str(error.value) and "'********'" in str(error.value)


def test_node_update_bad_value_named_before_running(iscsiadm, run):
    with pytest.raises(SaltInvocationError, match="node.session.auth.username contains a control"):
        iscsiadm.node_update(LUN1, PORTAL, {"node.startup": "automatic",
                                            "node.session.auth.username": "a\nnode.startup = manual"})
    assert run.calls == []


def test_check_settings_values_as_text(iscsiadm):
    assert iscsiadm.check_settings({"node.session.timeo.replacement_timeout": 120, "node.startup": "manual",
                                    "node.conn[0].iscsi.HeaderDigest": "None", "x.y": ""}) == {
        "node.session.timeo.replacement_timeout": "120",
        "node.startup": "manual",
        "node.conn[0].iscsi.HeaderDigest": "None",
        "x.y": "",
    }


@pytest.mark.parametrize(
    "settings, problem",
    [
        ([("node.startup", "automatic")], "must be a dict"),
        ({"node startup": "automatic"}, "is not a node setting name"),
        ({5: "automatic"}, "is not a node setting name"),
        ({"node.session.auth.password": True}, "must be text or a number, not bool"),
        ({"node.session.auth.password": None}, "must be text or a number, not NoneType"),
        ({"node.session.auth.password": "tab\tsecret"}, "contains a control character"),
        ({"node.session.auth.password": " secret"}, "starts or ends with whitespace"),
        ({"node.session.auth.password": "s" * 256}, "longer than 255 characters"),
    ],
)
def test_check_settings_refuses_unstorable(iscsiadm, settings, problem):
    with pytest.raises(SaltInvocationError, match=problem) as error:
        iscsiadm.check_settings(settings)
    assert "secret" not in str(error.value)


def test_login(iscsiadm, run):
    run.answer(NODE + ["--login"], stdout=f"Logging in to [iface: default, target: {LUN1}, portal: "
                                          "10.252.50.20,3260]\nLogin to [...] successful.")
    assert iscsiadm.login(LUN1, "10.252.50.20") is True


def test_login_session_exists(iscsiadm, run):
    run.answer(NODE + ["--login"], retcode=15, stderr="iscsiadm: default: 1 session requested, but 1 already present.")
    assert iscsiadm.login(LUN1, PORTAL) is False


def test_login_without_iscsid_carries_stderr(iscsiadm, run):
    run.answer(NODE + ["--login"], "iscsiadm-m-node-login.txt")
    with pytest.raises(CommandExecutionError, match="could not connect to iscsid"):
        iscsiadm.login(LUN1, PORTAL)


def test_login_without_record(iscsiadm, run):
    lun9 = "iqn.2018-08.es.raulpedroche:lun9"
    run.answer(["iscsiadm", "-m", "node", "-T", lun9, "-p", PORTAL, "--login"],
               "iscsiadm-m-node-login-norecord.txt")
    with pytest.raises(CommandExecutionError, match="No records found"):
        iscsiadm.login(lun9, PORTAL)


def test_logout(iscsiadm, run):
    run.answer(NODE + ["--logout"], stdout="Logout of [sid: 1, ...] successful.")
    assert iscsiadm.logout(LUN1, PORTAL) is True


def test_logout_without_session(iscsiadm, run):
    run.answer(NODE + ["--logout"], "iscsiadm-m-node-logout-nosession.txt")
    assert iscsiadm.logout(LUN1, PORTAL) is False


def test_sessions(iscsiadm, run):
    run.answer(["iscsiadm", "-m", "session"], "iscsiadm-m-session-format.txt")
    assert iscsiadm.sessions() == [
        {"sid": 1, "target": LUN1, "portal": PORTAL},
        {"sid": 2, "target": "iqn.2018-08.es.raulpedroche:lun2", "portal": PORTAL},
        {"sid": 3, "target": LUN1, "portal": "[fd00::20]:3260"},
    ]


def test_sessions_captured_in_the_lab(iscsiadm, run):
    run.answer(["iscsiadm", "-m", "session"], "iscsiadm-m-session-lab.txt")
    assert iscsiadm.sessions() == [
        {"sid": 1, "target": LUN1, "portal": "192.168.56.20:3260"},
        {"sid": 4, "target": LUN1, "portal": "192.168.56.20:3260"},
    ]


@pytest.mark.parametrize(
    "target, portal, sids",
    [
        (LUN1, None, [1, 3]),
        (None, "10.252.50.20", [1, 2]),
        (LUN1, "10.252.50.20", [1]),
        (LUN1, "fd00::20", [3]),
        ("iqn.2018-08.es.raulpedroche:lun3", None, []),
    ],
)
def test_sessions_filtered(iscsiadm, run, target, portal, sids):
    run.answer(["iscsiadm", "-m", "session"], "iscsiadm-m-session-format.txt")
    assert [session["sid"] for session in iscsiadm.sessions(target, portal)] == sids


def test_sessions_none(iscsiadm, run):
    run.answer(["iscsiadm", "-m", "session"], "iscsiadm-m-session.txt")
    assert iscsiadm.sessions() == []


def test_device(iscsiadm, monkeypatch, tmp_path):
    monkeypatch.setattr(iscsiadm, "BY_PATH", str(tmp_path))
    assert iscsiadm.device(LUN1, "10.252.50.20", 1) is None
    link = tmp_path / f"ip-10.252.50.20:3260-iscsi-{LUN1}-lun-1"
    link.write_text("")
    assert iscsiadm.device(LUN1, "10.252.50.20", 1) == str(link)
    assert iscsiadm.device(LUN1, "10.252.50.20", 0) is None


def test_device_ipv6_unbracketed(iscsiadm, monkeypatch, tmp_path):
    monkeypatch.setattr(iscsiadm, "BY_PATH", str(tmp_path))
    link = tmp_path / f"ip-fd00::20:3260-iscsi-{LUN1}-lun-0"
    link.write_text("")
    assert iscsiadm.device(LUN1, "[fd00::20]:3260", 0) == str(link)


@pytest.mark.parametrize("lun", [-1, "1", True, 1.0])
def test_device_bad_lun(iscsiadm, lun):
    with pytest.raises(SaltInvocationError, match="lun must be a LUN number"):
        iscsiadm.device(LUN1, PORTAL, lun)


# --- bounded calls -------------------------------------------------------------


def test_records_and_sessions_are_bounded_at_30_s_discovery_and_logins_at_150_s(iscsiadm, run):
    run.answer(["iscsiadm", "-m", "node"], "iscsiadm-m-node-none.txt")
    run.answer(["iscsiadm", "-m", "session"], "iscsiadm-m-session.txt")
    run.answer(DISCOVER, "iscsiadm-m-node.txt")
    run.answer(NODE + ["--login"], stdout="Login to [...] successful.")
    run.answer(NODE + ["--logout"], stdout="Logout of [...] successful.")
    iscsiadm.nodes()
    iscsiadm.sessions()
    iscsiadm.discover(PORTAL)
    iscsiadm.login(LUN1, PORTAL)
    iscsiadm.logout(LUN1, PORTAL)
    assert [kwargs["timeout"] for _, kwargs in run.calls] == [30, 30, 150, 150, 150]
    run.calls.clear()
    iscsiadm.login(LUN1, PORTAL, call_timeout=7)
    iscsiadm.sessions(call_timeout=2.5)
    assert [kwargs["timeout"] for _, kwargs in run.calls] == [7, 2.5]


def test_a_login_iscsid_never_answers_raises_naming_the_call_and_its_bound(iscsiadm, run):
    run.answers[tuple(NODE + ["--login"])] = timed_out(NODE + ["--login"], 150)
    with pytest.raises(CommandExecutionError) as error:
        iscsiadm.login(LUN1, PORTAL)
    assert str(error.value) == "iscsiadm -m node --login did not answer within 150 s (hung iscsid?)"


def test_a_hung_discovery_is_named(iscsiadm, run):
    run.answers[tuple(DISCOVER)] = timed_out(DISCOVER, 5)
    with pytest.raises(CommandExecutionError) as error:
        iscsiadm.discover(PORTAL, call_timeout=5)
    assert str(error.value) == (
        "iscsiadm -m discovery -t sendtargets -o new did not answer within 5 s (hung iscsid?)"
    )


def test_a_timed_out_update_never_shows_the_secret(iscsiadm, run):
    update = NODE + ["-o", "update", "-n", "node.session.auth.password", "-v", "secret0"]
    run.answers[tuple(update)] = timed_out(update, 30)
    # Salt's answer on a timeout repeats the whole command line.
    assert "secret0" in run.answers[tuple(update)]["stdout"]
    with pytest.raises(CommandExecutionError) as error:
        iscsiadm.node_update(LUN1, PORTAL, {"node.session.auth.password": "secret0"})
    assert str(error.value) == "iscsiadm -m node -o update did not answer within 30 s (hung iscsid?)"


@pytest.mark.parametrize("call_timeout", [0, -5, "30", False])
def test_a_call_timeout_that_is_no_bound_is_refused_before_any_call(iscsiadm, run, call_timeout):
    # 0 would be no limit at all to cmd.run_all, also for a login.
    for function, args in ((iscsiadm.login, (LUN1, PORTAL)), (iscsiadm.sessions, ())):
        with pytest.raises(SaltInvocationError, match=r"^call_timeout: .* is not a number of seconds above 0$"):
            function(*args, call_timeout=call_timeout)
    assert run.calls == []
