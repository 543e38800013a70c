"""
The formula through real Salt daemons: every minion's highstate renders
with the states of its role; the nfsha orchestration plans its steps in
order under test=True; a bad pillar is refused before anything runs; a
pillar edit changes exactly the files it should.
"""
import json
import pathlib
import re

import pytest
import yaml

from tests.conftest import ROOT
from tests.functional.conftest import MINION_IDS, show_highstate
from tests.support.plan import artifacts, changed

SERVERS = ("nfs1", "nfs2")
ORCHESTRATION_STEPS = [
    "nfsha-sync-and-validate",
    "nfsha-iscsi-target",
    "nfsha-storage",
    "nfsha-nfs-server-nfs1",
    "nfsha-nfs-server-nfs2",
    "nfsha-client-release",
    "nfsha-keepalived",
    "nfsha-vip-held",
    "nfsha-client",
]


def failures(steps):
    """The failed states of the minions, by orchestration step."""
    return {
        step["__id__"]: {
            minion: [r["comment"] for r in states.values() if r["result"] is False]
            for minion, states in step["changes"].get("ret", {}).items()
        }
        or step["comment"]
        for step in steps.values()
        if step["result"] is False
    }


def test_every_minion_renders_the_states_of_its_role(highstates):
    for minion_id in MINION_IDS:
        assert isinstance(highstates[minion_id], dict), highstates[minion_id]
        assert "nfsha-common-hosts-nfs1-present" in highstates[minion_id]
        assert "nfsha-common-time-service-running" in highstates[minion_id]
    assert "nfsha-iscsi-target-present" in highstates["iscsi"]
    for server in SERVERS:
        ids = set(highstates[server])
        assert {
            "nfsha-iscsi-initiator-logged-in",
            "nfsha-iscsi-watchdog-running",
            "nfsha-ocfs2-cluster-online",
            "nfsha-ocfs2-cluster-sysctl-kernel.panic-present",
            "nfsha-ocfs2-cluster-sysctl-kernel.panic_on_oops-present",
            "nfsha-ocfs2-mounts-state-mounted",
            "nfsha-ocfs2-mounts-data-mounted",
            "nfsha-nfs-install-pkg-installed",
            "nfsha-nfs-exports-managed",
            "nfsha-nfs-service-on-master",
            "nfsha-keepalived-config-managed",
            "nfsha-keepalived-service-running",
        } <= ids
        assert "nfsha-iscsi-target-present" not in ids
    assert {"nfsha-client-/data-in-fstab", "nfsha-client-/data-mounted"} <= set(highstates["client"])
    assert not any(i.startswith(("nfsha-ocfs2", "nfsha-keepalived")) for i in highstates["client"])


def test_only_the_format_node_formats(highstates):
    assert "nfsha-ocfs2-format-partitioned" in highstates["nfs1"]
    assert "nfsha-ocfs2-format-data-formatted" in highstates["nfs1"]
    assert not any(i.startswith("nfsha-ocfs2-format") for i in highstates["nfs2"])


def test_each_server_mounts_the_file_systems_it_knows_by_uuid(highstates):
    for server in SERVERS:
        for fs in ("state", "data"):
            mount = highstates[server][f"nfsha-ocfs2-mounts-{fs}-mounted"]["mount"]
            device = next(arg["device"] for arg in mount if isinstance(arg, dict) and "device" in arg)
            assert device.startswith("__slot__:salt:ocfs2.mount_device("), device
            assert {"match_on": "name"} in mount
            requires = next(arg["require"] for arg in mount if isinstance(arg, dict) and "require" in arg)
            # The format node formats (and records); the other identifies first.
            identity = "format-{}-formatted" if server == "nfs1" else "mounts-{}-identified"
            assert {"ocfs2": f"nfsha-ocfs2-{identity.format(fs)}"} in requires
    assert "nfsha-ocfs2-mounts-data-identified" in highstates["nfs2"]
    assert "nfsha-ocfs2-mounts-data-identified" not in highstates["nfs1"]


def test_secret_files_are_written_0600(highstates):
    config = highstates["iscsi"]["nfsha-iscsi-target-present"]["tgt"]
    assert {"config": "/etc/tgt/conf.d/nfsha.conf"} in config
    initiator_name = highstates["nfs1"]["nfsha-iscsi-initiator-name-managed"]["file"]
    assert {"mode": "0600"} in initiator_name


def test_every_state_that_runs_a_program_gets_its_bound_from_pillar(highstates, salt_cli):
    bounds = yaml.safe_load((ROOT / "formula/nfsha/defaults.yaml").read_text())["nfsha"]["call_timeouts"]
    expected = {
        ("iscsi", "nfsha-iscsi-target-present", "tgt"): {"call_timeout": bounds["tgtadm"]},
        ("nfs1", "nfsha-iscsi-initiator-logged-in", "iscsiadm"): {
            "call_timeout": bounds["iscsiadm"], "login_timeout": bounds["iscsi_login"],
        },
        ("nfs2", "nfsha-ocfs2-cluster-online", "ocfs2"): {"call_timeout": bounds["ocfs2"]},
        ("nfs1", "nfsha-ocfs2-format-partitioned", "ocfs2"): {"call_timeout": bounds["ocfs2"]},
        ("nfs1", "nfsha-ocfs2-format-data-formatted", "ocfs2"): {
            "call_timeout": bounds["ocfs2"], "mkfs_timeout": bounds["mkfs"],
        },
        ("nfs2", "nfsha-ocfs2-mounts-partitions-visible", "ocfs2"): {"call_timeout": bounds["ocfs2"]},
        ("nfs2", "nfsha-ocfs2-mounts-data-identified", "ocfs2"): {"call_timeout": bounds["ocfs2"]},
        ("client", "nfsha-client-/data-mounted", "nfsha"): {"call_timeout": bounds["mount"]},
    }
    for (minion_id, state_id, module), args in expected.items():
        given = highstates[minion_id][state_id][module]
        for key, value in args.items():
            assert {key: value} in given, (state_id, key)
    # The client's mount is the formula's bounded one, not Salt's mount.mounted.
    assert "mount" not in highstates["client"]["nfsha-client-/data-mounted"]
    # The orchestration's release step, outside any highstate.
    release = salt_cli.run("state.show_sls", "nfsha.client.release", minion_tgt="client")
    assert release.returncode == 0, release
    released = release.data["nfsha-client-release-/data-released"]["nfsha"]
    assert {"call_timeout": bounds["mount"]} in released


@pytest.fixture(scope="module")
def orchestration_plan(salt_run_cli):
    return salt_run_cli.run("state.orchestrate", "nfsha", "test=True")


def test_orchestration_plans_every_step_in_order(orchestration_plan):
    ret = orchestration_plan
    (steps,) = ret.data["data"].values()
    assert ret.returncode == 0, failures(steps)
    ordered = sorted(steps.values(), key=lambda s: s["__run_num__"])
    assert [s["__id__"] for s in ordered] == ORCHESTRATION_STEPS
    for step in ordered:
        assert step["result"] is not False, step
    assert "exactly one of nfs1, nfs2 holds 192.168.56.10" in steps[
        "nfsha_|-nfsha-vip-held_|-192.168.56.10_|-vip_held"
    ]["comment"]


def test_secrets_stay_out_of_the_output_and_the_logs(
    highstates, orchestration_plan, salt_master, salt_minions
):
    pillar = yaml.safe_load((ROOT / "pillar/nfsha.sls").read_text())["nfsha"]
    secrets = [
        pillar["iscsi"]["chap"]["password"],
        pillar["iscsi"]["mutual_chap"]["password"],
        pillar["keepalived"]["auth_pass"],
    ]
    # The minions log at trace level, the master at debug (conftest).
    logs = [salt_master.config["log_file"]] + [m.config["log_file"] for m in salt_minions.values()]
    texts = {
        "show_highstate": json.dumps(highstates),
        "output": orchestration_plan.stdout + orchestration_plan.stderr,
    }
    texts.update((log, pathlib.Path(log).read_text()) for log in logs)
    for server in SERVERS:
        # The logs did record the run that handled the secrets.
        assert "Executing command state.sls" in texts[salt_minions[server].config["log_file"]]
    for where, text in texts.items():
        for secret in secrets:
            assert secret not in text, f"a secret appears in {where}"


def test_settings_and_validation_keep_the_secrets_out_of_the_job_cache(salt_cli, salt_master):
    # salt-run nfsha.switchover fetches a server's nfsha.settings through the
    # master: every return lands in the master's job cache.
    pillar = yaml.safe_load((ROOT / "pillar/nfsha.sls").read_text())["nfsha"]
    secrets = [
        pillar["iscsi"]["chap"]["password"],
        pillar["iscsi"]["mutual_chap"]["password"],
        pillar["keepalived"]["auth_pass"],
    ]
    settings = salt_cli.run("-L", "nfsha.settings", minion_tgt=",".join(MINION_IDS))
    assert settings.returncode == 0, settings
    assert settings.data["nfs1"]["keepalived"]["auth_pass"] == (
        "__slot__:salt:pillar.get(nfsha:keepalived:auth_pass, unmask=True)"
    )
    assert salt_cli.run("-L", "nfsha.validate", minion_tgt=",".join(MINION_IDS)).data == {m: [] for m in MINION_IDS}
    # An auth_pass that YAML read as a number: its problem names its type.
    bad = {"nfsha": {"keepalived": {"auth_pass": 73918264}}}
    ret = salt_cli.run("state.sls", "nfsha.validate", f"pillar={json.dumps(bad)}", minion_tgt="nfs1")
    (state,) = [r for r in ret.data.values() if r["__id__"] == "nfsha-validate-pillar"]
    assert "nfsha:keepalived:auth_pass: must be str, not int (quote it in YAML)" in state["comment"]
    assert "73918264" not in ret.stdout
    jobs = [f for f in (pathlib.Path(salt_master.config["cachedir"]) / "jobs").rglob("*") if f.is_file()]
    assert any(b"nfsha.settings" in f.read_bytes() for f in jobs)
    for job in jobs:
        for secret in secrets:
            assert secret.encode() not in job.read_bytes(), f"a secret is in the job cache: {job}"


def test_planning_sends_nothing_to_the_package_mirrors(orchestration_plan, salt_cli, offline_apt):
    # The plan's apt-get update (Salt's, for the packages this host lacks)
    # goes to the tier's refusing loopback port (the offline_apt fixture):
    # apt as the minions run it has that proxy, for http and https.
    ret = salt_cli.run("-L", "cmd.run", "apt-config dump Acquire", minion_tgt=",".join(MINION_IDS))
    assert ret.returncode == 0, ret
    for minion_id in MINION_IDS:
        dump = ret.data[minion_id]
        assert f'Acquire::http::Proxy "{offline_apt["proxy"]}";' in dump, minion_id
        assert f'Acquire::https::Proxy "{offline_apt["proxy"]}";' in dump, minion_id


def test_orchestration_refuses_a_bad_pillar_before_any_step(salt_run_cli):
    bad = {"nfsha": {"vip": {"address": "192.168.56.11"}, "keepalived": {"auth_pass": "123456789"}}}
    ret = salt_run_cli.run("state.orchestrate", "nfsha", f"pillar={json.dumps(bad)}")
    assert ret.returncode != 0
    output = ret.stdout + ret.stderr
    assert "nfsha:vip:address: 192.168.56.11 collides with the address of node nfs1" in output
    assert "nfsha:keepalived:auth_pass: must be 1 to 8 bytes long, not 9" in output
    assert "123456789" not in output
    assert "nfsha-sync-and-validate" not in output


def test_every_sls_refuses_a_bad_pillar(salt_cli):
    bad = {"nfsha": {"nodes": {"nfs2": {"priority": 101}}}}
    ret = salt_cli.run("state.sls", "nfsha.keepalived", "test=True", f"pillar={json.dumps(bad)}", minion_tgt="nfs1")
    assert ret.returncode != 0
    assert re.search(r"nfsha:nodes:nfs[12]:priority: priority 101 is already used by nodes:nfs[12]:priority", ret.stdout)


def test_the_first_step_syncs_the_modules_it_then_validates_with(salt_cli, salt_minions):
    # A minion that has never had the custom modules (a new node): the
    # sync and the validation share one state run.
    extmods = pathlib.Path(salt_minions["nfs2"].config["extension_modules"])
    for kind in ("modules", "states"):
        (extmods / kind / "nfsha.py").unlink()
    (extmods / "utils" / "nfsha_rules.py").unlink()
    ret = salt_cli.run("state.sls", "nfsha.validate", minion_tgt="nfs2")
    assert ret.returncode == 0, ret
    by_id = {r["__id__"]: r for r in ret.data.values()}
    assert by_id["nfsha-validate-pillar"]["result"] is True
    assert by_id["nfsha-validate-pillar"]["comment"] == "The nfsha pillar is valid"
    assert "modules" in by_id["nfsha-sync-modules"]["changes"]
    assert "utils" in by_id["nfsha-sync-utils"]["changes"]
    assert by_id["nfsha-sync-refreshed"]["changes"]
    # Converged: nothing synced, nothing refreshed.
    ret = salt_cli.run("state.sls", "nfsha.validate", minion_tgt="nfs2")
    assert ret.returncode == 0, ret
    assert [r["__id__"] for r in ret.data.values() if r["changes"]] == []


def test_the_validate_step_names_the_problem(salt_cli):
    bad = {"nfsha": {"iscsi": {"iqn": "iqn.nope"}}}
    ret = salt_cli.run("state.sls", "nfsha.validate", f"pillar={json.dumps(bad)}", minion_tgt="nfs2")
    assert ret.returncode != 0
    (state,) = [r for r in ret.data.values() if r["__id__"] == "nfsha-validate-pillar"]
    assert state["result"] is False
    assert "nfsha:iscsi:iqn: 'iqn.nope' is not a valid IQN" in state["comment"]


@pytest.fixture(scope="module")
def lab_artifacts(highstates):
    return {minion_id: artifacts(highstates[minion_id]) for minion_id in MINION_IDS}


def edit_changes(salt_cli, lab_artifacts, pillar):
    ret = show_highstate(salt_cli, pillar)
    assert ret.returncode == 0, ret
    return {
        minion_id: found
        for minion_id in MINION_IDS
        if (found := changed(lab_artifacts[minion_id], artifacts(ret.data[minion_id])))
    }


def test_swapping_priorities_changes_keepalived_conf_only(salt_cli, lab_artifacts):
    swap = {"nfsha": {"nodes": {"nfs1": {"priority": 100}, "nfs2": {"priority": 101}}}}
    keepalived_conf = ("keepalived.config", "/etc/keepalived/keepalived.conf")
    assert edit_changes(salt_cli, lab_artifacts, swap) == {"nfs1": {keepalived_conf}, "nfs2": {keepalived_conf}}


def test_changing_an_address_changes_what_names_it(salt_cli, lab_artifacts):
    move = {"nfsha": {"nodes": {"client": {"address": "192.168.56.31"}}}}
    hosts_entry = ("host.present", "client")
    on_servers = {
        hosts_entry,
        ("file.managed", "/etc/exports"),
        ("keepalived.config", "/etc/keepalived/keepalived.conf"),
    }
    assert edit_changes(salt_cli, lab_artifacts, move) == {
        "iscsi": {hosts_entry},
        "nfs1": on_servers,
        "nfs2": on_servers,
        "client": {hosts_entry},
    }


def test_moving_a_server_changes_the_target_acl_and_the_o2cb_cluster(salt_cli, lab_artifacts):
    move = {"nfsha": {"nodes": {"nfs2": {"address": "192.168.56.13"}}}}
    hosts_entry = ("host.present", "nfs2")
    on_servers = {hosts_entry, ("ocfs2.cluster", "ocfs")}
    assert edit_changes(salt_cli, lab_artifacts, move) == {
        "iscsi": {hosts_entry, ("tgt.target_present", "iqn.2018-08.es.raulpedroche:lun1")},
        "nfs1": on_servers,
        "nfs2": on_servers,
        "client": {hosts_entry},
    }
