"""
A real salt-master and the lab's four minions (iscsi, nfs1, nfs2, client)
on loopback, serving the project's file_roots and pillar_roots. The minions
share this machine: tests through them render and plan (show_highstate,
test=True); they never apply the formula to the host.
"""
import concurrent.futures
import json
import os
import shutil
import socket
import subprocess
import tempfile

import pytest

from tests.conftest import ROOT

MINION_IDS = ("iscsi", "nfs1", "nfs2", "client")


@pytest.fixture(scope="session")
def salt_factories_config(offline_apt):
    # A short root: Salt's AF_UNIX socket paths must stay under 108 bytes.
    root = tempfile.mkdtemp(prefix="nfsha-sf-", dir="/tmp")
    # The daemons' environment: the minions run apt (offline_apt).
    yield {"root_dir": root, "environ": {**os.environ, "APT_CONFIG": offline_apt["APT_CONFIG"]}}
    shutil.rmtree(root, ignore_errors=True)


# keepalived -t (which keepalived.config runs even under test=True) checks
# that the VIP's interface exists. The minions plan on this machine, which
# has no eth1: they get a veth of their own, named in a pillar layer over
# the lab's. Nothing is sent on it.
VIP_INTERFACE = "nfsha-vip0"


@pytest.fixture(scope="session")
def vip_interface():
    subprocess.run(["ip", "link", "add", VIP_INTERFACE, "type", "veth", "peer", "name", "nfsha-vip1"], check=True)
    try:
        yield VIP_INTERFACE
    finally:
        subprocess.run(["ip", "link", "del", VIP_INTERFACE], check=True)


@pytest.fixture(scope="session")
def pillar_root(tmp_path_factory, vip_interface):
    root = tmp_path_factory.mktemp("pillar")
    (root / "top.sls").write_text("base:\n  '*':\n    - nfsha\n    - test_host\n")
    # pkg_refresh: false, as a site without a mirror would set it (Salt's
    # test run of pkg.installed refreshes anyway for a package the host
    # lacks: offline_apt keeps that on loopback).
    (root / "test_host.sls").write_text(
        f"nfsha:\n  pkg_refresh: false\n  vip:\n    interface: {vip_interface}\n"
    )
    return root


@pytest.fixture(scope="session")
def salt_master(salt_factories, pillar_root):
    config = {
        "file_roots": {"base": [str(ROOT / "salt"), str(ROOT / "formula")]},
        # The lab's pillar, under this machine's VIP interface.
        "pillar_roots": {"base": [str(pillar_root), str(ROOT / "pillar")]},
        "open_mode": True,
        "auto_accept": True,
        # The nfsha-vip-held step asks the servers through saltutil.cmd.
        "timeout": 30,
    }
    factory = salt_factories.salt_master_daemon("nfsha-master", overrides=config)
    with factory.started():
        yield factory


@pytest.fixture(scope="session")
def offline_apt(tmp_path_factory):
    """An APT_CONFIG for the minions that sends apt's downloads to a
    loopback port of this fixture's, where nothing listens: planning
    (test=True) never reaches the package mirrors. Salt 3008.4's
    pkg.installed runs pkg.latest_version, which runs `apt-get update`,
    for each package the host lacks (chrony here) even with refresh off
    (salt/states/pkg.py, _get_installable_versions); with this, apt says
    it could not connect and keeps the lists it has (exit 0, about 3 s)."""
    # Bound but not listening: the port is ours, and a connection to it is
    # refused at once.
    with socket.socket() as port:
        port.bind(("127.0.0.1", 0))
        proxy = f"http://127.0.0.1:{port.getsockname()[1]}/"
        config = tmp_path_factory.mktemp("apt") / "apt-offline.conf"
        config.write_text(
            f'Acquire::http::Proxy "{proxy}";\nAcquire::https::Proxy "{proxy}";\nAcquire::Retries "0";\n'
        )
        yield {"APT_CONFIG": str(config), "proxy": proxy}


@pytest.fixture(scope="session")
def salt_minions(salt_master):
    factories = {
        # Logged at trace, Salt's most talkative level short of garbage (which
        # dumps rendered pillar by design): secrets must stay out even there.
        minion_id: salt_master.salt_minion_daemon(
            minion_id, overrides={"file_client": "remote", "log_level_logfile": "trace"}
        )
        for minion_id in MINION_IDS
    }
    # Started side by side: about 5 s instead of 20.
    with concurrent.futures.ThreadPoolExecutor(len(factories)) as pool:
        list(pool.map(lambda f: f.start(), factories.values()))
    try:
        yield factories
    finally:
        # Stopped side by side too: each takes seconds to shut down.
        with concurrent.futures.ThreadPoolExecutor(len(factories)) as pool:
            list(pool.map(lambda f: f.terminate(), factories.values()))


# What the formula ships to minions, synced as its first step syncs it
# (formula/nfsha/sync.sls): saltutil.sync_all asks the master for some twenty
# kinds and then has every minion compile its pillar again, for nothing here
# (on the 2-core machine: 13 s for sync_all with nothing left to copy, 6 s
# for these three copying everything).
SYNCED_KINDS = ("utils", "modules", "states")


@pytest.fixture(scope="session")
def salt_cli(salt_master, salt_minions):
    """`salt` against the lab's minions, with the custom modules synced."""
    cli = salt_master.salt_cli(timeout=120)
    # One job, the kinds in order; the modules reloaded once, after the last.
    functions = ",".join(f"saltutil.sync_{kind}" for kind in SYNCED_KINDS)
    refresh = ",".join(["refresh=False"] * (len(SYNCED_KINDS) - 1) + ["refresh=True"])
    ret = cli.run("-L", functions, refresh, minion_tgt=",".join(MINION_IDS))
    assert ret.returncode == 0, ret
    for minion_id in MINION_IDS:
        assert "modules.nfsha" in ret.data[minion_id]["saltutil.sync_modules"], ret
        assert "states.nfsha" in ret.data[minion_id]["saltutil.sync_states"], ret
        assert "utils.nfsha_rules" in ret.data[minion_id]["saltutil.sync_utils"], ret
    return cli


@pytest.fixture(scope="session")
def salt_run_cli(salt_master, salt_cli):
    """`salt-run` on the master, with the custom modules synced to it too."""
    cli = salt_master.salt_run_cli(timeout=300)
    ret = cli.run("saltutil.sync_all")
    assert ret.returncode == 0, ret
    return cli


def show_highstate(salt_cli, pillar=None):
    """`state.show_highstate` of every minion, with ``pillar`` over the lab's."""
    args = ["-L", "state.show_highstate"]
    if pillar is not None:
        args.append(f"pillar={json.dumps(pillar)}")
    return salt_cli.run(*args, minion_tgt=",".join(MINION_IDS))


@pytest.fixture(scope="session")
def highstates(salt_cli):
    """The lab's highstate of every minion, by minion id."""
    ret = show_highstate(salt_cli)
    assert ret.returncode == 0, ret
    return ret.data
