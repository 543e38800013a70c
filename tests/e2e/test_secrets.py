"""
After the whole tier (it runs last): no secret of the lab's pillar in the
master's job cache or log, in the minions' Salt logs and journals, or in
anything salt and salt-run printed for the tests.
"""
from tests.support.lab import PILLAR, SALT_OUTPUT, STATE

SECRETS = {
    "iscsi:chap:password": PILLAR["iscsi"]["chap"]["password"],
    "iscsi:mutual_chap:password": PILLAR["iscsi"]["mutual_chap"]["password"],
    "keepalived:auth_pass": PILLAR["keepalived"]["auth_pass"],
}
# Each node's record of what Salt did there, and everything its services
# logged (iscsid, keepalived, the kernel).
NODE_LOGS = "cat /var/log/salt/minion; journalctl --no-pager -o cat"


def test_no_secret_in_the_job_cache_the_logs_or_the_output(lab):
    # The nodes' logs first: their return lands in the job cache checked below.
    texts = {f"{node}: {NODE_LOGS}": lab.sh(node, NODE_LOGS) for node in PILLAR["nodes"]}
    # The master's job cache and log (its minion data cache holds the
    # pillar, secrets included, as the pillar files themselves do).
    master = STATE / "master/root"
    jobs = [f for f in master.rglob("*") if f.is_file() and "jobs" in f.relative_to(master).parts]
    files = [SALT_OUTPUT, master / "master.log", *jobs]
    texts.update((str(f), f.read_text(errors="replace")) for f in files)
    # The check reads what the tier did: the job cache holds its commands.
    assert any("cmd.run_all" in text for where, text in texts.items() if "/jobs/" in where)
    # ... and what salt-run printed for it: nfsha.status's JSON (the
    # output file holds what was printed, not the commands).
    assert '"vip_holders"' in SALT_OUTPUT.read_text()
    found = [f"{key} in {where}" for where, text in texts.items() for key, secret in SECRETS.items() if secret in text]
    assert found == []
