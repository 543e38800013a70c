"""
The nfsha cluster definition: pillar merged over the formula's defaults, the
roles derived from it, and its validation.

The pillar key ``nfsha`` describes the whole cluster (nodes, VIP, iSCSI
target, OCFS2, exports, nfsd, keepalived, client mounts); docs/pillar.md is
its reference. Every SLS of the formula and the ``nfsha`` orchestration read
it through :py:func:`settings` and refuse to run when :py:func:`validate`
finds a problem.

:depends: the nfsha formula on the master's file_roots (``salt://nfsha``)
"""

import copy
import difflib
import ipaddress
import posixpath
import re

import salt.exceptions
import salt.utils.dictupdate
import salt.utils.yaml

__virtualname__ = "nfsha"

DEFAULTS_URL = "salt://nfsha/defaults.yaml"
OSFAMILYMAP_URL = "salt://nfsha/osfamilymap.yaml"
ROLES = ("target", "server", "client")
# The shared disk's partitions, in order: NFS state first, exported data last.
PARTITIONS = ("state", "data")
# Where nfs-utils keeps nfsd's state: the state file system's mount point.
NFS_STATE_DIR = "/var/lib/nfs"
# Where the secrets live under the nfsha pillar key.
SECRETS = (
    ("iscsi", "chap", "password"),
    ("iscsi", "mutual_chap", "password"),
    ("keepalived", "auth_pass"),
)
# What shows instead of a value that may hold a secret.
MASK = "********"
# The keys that have no default, and the entries of the maps whose keys are
# free-form (ANY: node ids, track script names) and of the lists of
# dictionaries: with the keys of defaults.yaml, every key the nfsha pillar
# takes (docs/pillar.md lists them). None marks a value, [...] a list of
# dictionaries.
ANY = "*"
SCHEMA = {
    "network": None,
    "nodes": {
        ANY: dict.fromkeys(
            ("address", "role", "priority", "ocfs2_number", "interface", "initiator_name")
        )
    },
    "vip": {"address": None},
    "iscsi": {
        "iqn": None,
        "backing_store": None,
        "chap": {"username": None, "password": None},
        "mutual_chap": {"username": None, "password": None},
    },
    "exports": [dict.fromkeys(("path", "clients", "options", "fsid"))],
    "keepalived": {
        "auth_pass": None,
        "track_scripts": {ANY: dict.fromkeys(("script", "interval", "timeout", "fall", "rise"))},
    },
    "client": {"mounts": [dict.fromkeys(("mount_point", "export", "options"))]},
}
# The node keys that only a server takes.
SERVER_KEYS = ("priority", "ocfs2_number", "interface", "initiator_name")


def __virtual__():
    # The rules it validates with; map.jinja asks for a sync when this is missing.
    if "nfsha_rules.iqn" not in __utils__:
        return (False, "nfsha: the formula's utils (nfsha_rules) are missing: run saltutil.sync_all")
    return __virtualname__


def settings(defaults=None, osfamilymap=None):
    """
    Return the cluster definition: the ``nfsha`` pillar merged over the
    formula's defaults, with what follows from it, and this minion's OS
    family's packages, services and paths:

    - ``roles``: ``target``, ``servers`` (ordered by ocfs2_number), ``clients``
    - the client nodes' addresses in every export that names no clients
    - ``ocfs2:format_node`` resolved, and the o2cb ``ocfs2:nodes``
    - ``iscsi:portal`` and ``iscsi:device``, the LUN as the initiators see it,
      and each file system's ``partition`` on it
    - ``ocfs2:partitions``: the file systems in partition order
    - ``me``: this minion's node (None when it is not a cluster node)

    The secrets are not in it: each (``iscsi:chap:password``,
    ``iscsi:mutual_chap:password``, ``keepalived:auth_pass``) is a Salt slot,
    ``__slot__:salt:pillar.get(nfsha:<path>, unmask=True)``, that a state
    resolves from pillar when it runs. The SLS files hand these to the
    states, so rendered state data (``state.show_sls``, job returns, the
    logs) never holds a secret, and neither does this function's return in
    the master's job cache. Salt resolves slots in an argument's own value,
    in the values of a dictionary argument and in dictionaries in a list.
    A malformed value on the way to a secret (``iscsi:chap`` given as a
    string, say) and the value of a key the formula does not know (a
    mistyped ``auth_pas``, say) show as ``********``.

    defaults
        The formula's defaults.yaml already loaded (map.jinja passes it);
        fetched from ``salt://nfsha/defaults.yaml`` when not given.

    osfamilymap
        The formula's osfamilymap.yaml, likewise.

    CLI Example:

    .. code-block:: bash

        salt nfs1 nfsha.settings
    """
    if defaults is None:
        defaults = _formula_file(DEFAULTS_URL)
    if osfamilymap is None:
        osfamilymap = _formula_file(OSFAMILYMAP_URL)
    pillar = __pillar__.get("nfsha")
    config = _merged(pillar, defaults, __grains__.get("id"))
    # A key the formula does not know may be a secret under a mistyped name.
    for path, _ in _unknown_keys(pillar, _schema(defaults)):
        parent = config
        for key in path[:-1]:
            parent = parent[key]
        parent[path[-1]] = MASK
    config = _slotted(config)
    config.update(__salt__["grains.filter_by"](osfamilymap, grain="os_family") or {})
    return config


def validate(defaults=None):
    """
    Check this minion's ``nfsha`` pillar, merged over the formula's
    defaults, and return every problem found, each as ``"nfsha:<key path>:
    <what is wrong>"``; an empty list means valid. No message holds a
    secret's value, whatever its type.

    defaults
        As for :py:func:`settings`.

    CLI Example:

    .. code-block:: bash

        salt '*' nfsha.validate
    """
    return check(__pillar__.get("nfsha"), defaults)


def check(pillar, defaults=None):
    """
    Return the problems of an ``nfsha`` pillar given as a dictionary (the
    value of the pillar key), merged over the formula's defaults, without
    reading this minion's pillar. :py:func:`validate` is this on the
    minion's own pillar.

    defaults
        As for :py:func:`settings`.

    CLI Example:

    .. code-block:: bash

        salt-call nfsha.check '{"nodes": {}}'
    """
    if pillar is not None and not isinstance(pillar, dict):
        return [f"nfsha: must be a dictionary, not {_kind(pillar)}"]
    if defaults is None:
        defaults = _formula_file(DEFAULTS_URL)
    config = _merged(pillar, defaults, None)
    problems = []
    _check_keys(pillar, defaults, problems)
    network = _check_network(config, problems)
    _check_nodes(config, network, problems)
    _check_vip(config, network, problems)
    _check_iscsi(config, problems)
    _check_ocfs2(config, problems)
    _check_exports(config, problems)
    _check_nfsd(config, problems)
    _check_keepalived(config, problems)
    _check_client(config, problems)
    _check_call_timeouts(config, problems)
    _check_list_of_strings(config, "ntp_servers", problems)
    _get(config, ("pkg_refresh",), problems, bool, required=False)
    return problems


def _merged(pillar, defaults, minion_id):
    """The pillar over the defaults, derived (secrets in clear: never return it)."""
    merged = salt.utils.dictupdate.merge(
        copy.deepcopy(defaults.get("nfsha", {})),
        copy.deepcopy(pillar) if isinstance(pillar, dict) else {},
        strategy="recurse",
        merge_lists=False,
    )
    return _derive(merged, minion_id)


def _slotted(config):
    """``config`` with each secret replaced by a slot that reads it from
    pillar, and any malformed value on the way to one masked."""
    for path in SECRETS:
        parent = config
        for key in path[:-1]:
            value = parent.get(key)
            if value is not None and not isinstance(value, dict):
                parent[key] = MASK
            if not isinstance(value, dict):
                break
            parent = value
        else:
            if path[-1] in parent:
                parent[path[-1]] = f"__slot__:salt:pillar.get(nfsha:{':'.join(path)}, unmask=True)"
    return config


def _schema(defaults):
    """The keys the nfsha pillar takes, as a tree like :py:data:`SCHEMA`:
    those of ``defaults`` with those of SCHEMA."""

    def keys(value):
        if isinstance(value, dict):
            return {key: keys(item) for key, item in value.items()}
        if isinstance(value, list) and value and all(isinstance(item, dict) for item in value):
            entry = {}
            for item in value:
                entry = union(entry, keys(item))
            return [entry]
        return None

    def union(one, other):
        if isinstance(one, dict) and isinstance(other, dict):
            both = one.keys() & other.keys()
            return {
                key: union(one[key], other[key]) if key in both else one.get(key, other.get(key))
                for key in one.keys() | other.keys()
            }
        if isinstance(one, list) and isinstance(other, list):
            return [union(one[0], other[0])]
        return one if other is None else other

    return union(keys(defaults.get("nfsha", {})), SCHEMA)


def _unknown_keys(value, schema, path=()):
    """``(path, the keys known there)`` of each key of ``value`` that
    ``schema`` does not know; what is not a dictionary or list is not walked."""
    if isinstance(schema, list) and isinstance(value, list):
        for index, item in enumerate(value):
            yield from _unknown_keys(item, schema[0], path + (index,))
    elif isinstance(schema, dict) and isinstance(value, dict):
        for key, item in value.items():
            if ANY in schema or key in schema:
                yield from _unknown_keys(item, schema.get(ANY, schema.get(key)), path + (key,))
            else:
                yield path + (key,), sorted(map(str, schema))


def _formula_file(url):
    text = __salt__["cp.get_file_str"](url)
    if not text:
        raise salt.exceptions.CommandExecutionError(
            f"nfsha: cannot read {url}: is the formula in the master's file_roots?"
        )
    return salt.utils.yaml.safe_load(text)


def _derive(config, minion_id):
    """Add the roles, the format node and this minion's node (pure)."""
    nodes = config.get("nodes") if isinstance(config.get("nodes"), dict) else {}

    def having(role):
        return [i for i, n in nodes.items() if isinstance(n, dict) and n.get("role") == role]

    def ocfs2_number(node_id):
        number = nodes[node_id].get("ocfs2_number")
        valid = isinstance(number, int) and not isinstance(number, bool)
        return (not valid, number if valid else 0, node_id)

    servers = sorted(having("server"), key=ocfs2_number)
    targets = having("target")
    config["roles"] = {
        "target": targets[0] if targets else None,
        "servers": servers,
        "clients": sorted(having("client")),
    }
    # An export without clients goes to every client node's address.
    client_addresses = [nodes[i].get("address") for i in config["roles"]["clients"]]
    for export in config.get("exports") if isinstance(config.get("exports"), list) else []:
        if isinstance(export, dict) and export.get("clients") is None:
            export["clients"] = client_addresses
    ocfs2 = config.setdefault("ocfs2", {})
    if isinstance(ocfs2, dict) and not ocfs2.get("format_node") and servers:
        ocfs2["format_node"] = servers[0]
    if isinstance(ocfs2, dict):
        ocfs2["nodes"] = [
            {
                "name": i,
                "number": nodes[i].get("ocfs2_number"),
                "address": nodes[i].get("address"),
                "port": ocfs2.get("port"),
            }
            for i in servers
        ]
        ocfs2["fence_keys"] = {i: _fence_key(nodes[i].get("ocfs2_number")) for i in servers}
    iscsi = config.get("iscsi")
    target = nodes.get(targets[0]) if targets else None
    if isinstance(iscsi, dict) and isinstance(target, dict):
        iscsi["portal"] = f"{target.get('address')}:{iscsi.get('port')}"
        # udev's stable name of the LUN on the initiators, whatever sdX it gets.
        iscsi["device"] = (
            f"/dev/disk/by-path/ip-{iscsi['portal']}-iscsi-{iscsi.get('iqn')}-lun-{iscsi.get('lun')}"
        )
        # Each server needs its own initiator name: VMs cloned from one image
        # would otherwise share the one the package generated. iSCSI names
        # are lower case (RFC 3722); host names may not be.
        naming_authority = str(iscsi.get("iqn")).split(":", 1)[0]
        for server in servers:
            nodes[server].setdefault("initiator_name", f"{naming_authority}:{str(server).lower()}")
        filesystems = ocfs2.get("filesystems") if isinstance(ocfs2, dict) else None
        if isinstance(filesystems, dict) and all(
            isinstance(filesystems.get(n), dict) for n in PARTITIONS
        ):
            ocfs2["partitions"] = []
            for number, name in enumerate(PARTITIONS, start=1):
                filesystems[name].update(name=name, partition=f"{iscsi['device']}-part{number}")
                ocfs2["partitions"].append(filesystems[name])
    _derive_nfs_lock(config)
    me = nodes.get(minion_id)
    config["me"] = dict(me, id=minion_id) if isinstance(me, dict) else None
    return config


# A server's SCSI-3 reservation key (nfsha-scsi-fence): "nfsh" and its o2cb
# node number, so that sg_persist's listing names the server.
FENCE_KEY_PREFIX = int.from_bytes(b"nfsh") << 32


def _fence_key(number):
    return f"0x{FENCE_KEY_PREFIX | number:016x}" if isinstance(number, int) else None


# What a takeover after a crash needs once o2cb has declared the dead
# server dead: DLM recovery, the journal's replay, nfsd's start (8-10 s in
# the lab under software emulation, docs/failover.md), with a margin.
NFS_LOCK_RECOVERY_S = 20
# How long a new MASTER's nfsd may take to start before the NFS check asks
# systemd about it (measured under software emulation: about 10 s).
NFS_CHECK_STARTUP_S = 30


def _derive_nfs_lock(config):
    """The NFS service lock's file and the NFS check's ``lock_wait`` (pure)."""
    ocfs2 = _section(config, "ocfs2")
    mount_point = _section(_section(ocfs2, "filesystems"), "state").get("mount_point")
    if isinstance(config.get("nfsd"), dict) and mount_point:
        config["nfsd"]["lock_file"] = f"{mount_point}/.nfsha-nfs.lock"
    check = _section(_section(config, "keepalived"), "nfs_check")
    if not check:
        return
    check["startup_s"] = NFS_CHECK_STARTUP_S
    threshold = _section(ocfs2, "timeouts").get("heartbeat_threshold")
    if check.get("lock_wait") is None and isinstance(threshold, int):
        check["lock_wait"] = _o2cb_dead_s(threshold) + NFS_LOCK_RECOVERY_S


def _o2cb_dead_s(threshold):
    """o2cb declares a server dead after (threshold - 1) x 2 s of silence."""
    return (threshold - 1) * 2


def _section(config, key):
    """config[key] when it is a dictionary (unvalidated pillar), else {}."""
    value = config.get(key)
    return value if isinstance(value, dict) else {}


# --- validation helpers: each appends "nfsha:<path>: <problem>" strings ---


def _kind(value):
    return "null" if value is None else type(value).__name__


def _get(config, path, problems, types, required=True):
    """The value at ``path`` (a tuple of keys) if it has one of ``types``."""
    value = config
    for key in path:
        if isinstance(value, list) and isinstance(key, int):
            value = value[key] if key < len(value) else None
            continue
        if not isinstance(value, dict):
            return None
        if key not in value or value[key] is None:
            if required:
                problems.append(f"nfsha:{':'.join(map(str, path))}: is required")
            return None
        value = value[key]
    if types is int and isinstance(value, bool) or not isinstance(value, types):
        names = " or ".join(t.__name__ for t in (types if isinstance(types, tuple) else (types,)))
        if _holds_secret(path):
            # Neither the value nor any part of it: it is, or holds, a secret.
            shown = " (quote it in YAML)" if types is str and isinstance(value, (int, float)) else ""
        else:
            shown = f" {value!r}"
        problems.append(f"nfsha:{':'.join(map(str, path))}: must be {names}, not {_kind(value)}{shown}")
        return None
    return value


def _holds_secret(path):
    """Whether the value at ``path`` is a secret or may contain one."""
    return any(tuple(path) == secret[: len(path)] for secret in SECRETS)


def _in_range(config, path, low, high, problems, required=True):
    value = _get(config, path, problems, int, required)
    if value is not None and not low <= value <= high:
        problems.append(f"nfsha:{':'.join(map(str, path))}: {value} is out of range {low}-{high}")
        return None
    return value


def _string(config, path, problems, pattern=None, what=None, required=True):
    value = _get(config, path, problems, str, required)
    if value is not None and (not value.strip() or pattern and not pattern.match(value)):
        problems.append(
            f"nfsha:{':'.join(map(str, path))}: {value!r} is not {what or 'a non-empty string'}"
        )
        return None
    return value


def _interface(config, path, problems, required=True):
    """A network interface name as the kernel takes it (IFNAMSIZ: 15 bytes)."""
    return _string(
        config,
        path,
        problems,
        re.compile(r"^(?!\.\.?$)[!-.0-9;-~]{1,15}$"),
        "an interface name (at most 15 bytes, no spaces, '/' or ':')",
        required,
    )


def _absolute_path(config, path, problems, required=True):
    """The path at ``path``, normalized, if the files it goes into take it."""
    value = _ruled(config, path, problems, "plain_path", required=required)
    return None if value is None else posixpath.normpath(value)


def _address(config, path, problems, network):
    value = _string(config, path, problems)
    if value is None:
        return None
    try:
        address = ipaddress.IPv4Address(value)
    except ValueError:
        problems.append(f"nfsha:{':'.join(path)}: {value!r} is not an IPv4 address")
        return None
    if network and address not in network:
        problems.append(f"nfsha:{':'.join(path)}: {value} is not in the cluster network {network}")
    elif network and address in (network.network_address, network.broadcast_address):
        problems.append(
            f"nfsha:{':'.join(path)}: {value} is the network or broadcast address of {network}"
        )
    return address


def _ruled(config, path, problems, rule, *args, required=True):
    """The string at ``path`` if the formula's ``rule`` (_utils/nfsha_rules.py,
    which the modules' own checks call too) takes it; a secret never shows."""
    value = _get(config, path, problems, str, required)
    problem = value is not None and __utils__[f"nfsha_rules.{rule}"](value, *args)
    if problem:
        shown = "" if _holds_secret(path) else f" {value!r}"
        problems.append(f"nfsha:{':'.join(map(str, path))}:{shown} {problem}")
        return None
    return value


def _unique(seen, value, path, problems, what):
    if value is None:
        return
    if value in seen:
        problems.append(f"nfsha:{path}: {what} {value} is already used by {seen[value]}")
    else:
        seen[value] = path


def _check_keys(pillar, defaults, problems):
    """A key the formula does not know is a typo: name the nearest known one."""
    for path, known in _unknown_keys(pillar, _schema(defaults)):
        nearest = difflib.get_close_matches(str(path[-1]), known, n=1)
        if nearest:
            hint = f"did you mean {':'.join(map(str, path[:-1] + (nearest[0],)))}?"
        else:
            hint = f"known here: {', '.join(known)}"
        problems.append(f"nfsha:{':'.join(map(str, path))}: unknown key ({hint})")


def _check_list_of_strings(config, key, problems):
    value = _get(config, (key,), problems, list, required=False)
    for i, item in enumerate(value or []):
        if not isinstance(item, str) or not item.strip():
            problems.append(
                f"nfsha:{key}:{i}: must be a non-empty string, not {_kind(item)} {item!r}"
            )


def _check_network(config, problems):
    value = _string(config, ("network",), problems)
    if value is None:
        return None
    try:
        return ipaddress.IPv4Network(value)
    except ValueError as exc:
        problems.append(f"nfsha:network: {value!r} is not an IPv4 network in CIDR form ({exc})")
        return None


def _check_nodes(config, network, problems):
    nodes = _get(config, ("nodes",), problems, dict)
    if nodes is None:
        return
    addresses, priorities, numbers, initiators = {}, {}, {}, {}
    count = {role: 0 for role in ROLES}
    for node_id, node in nodes.items():
        base = ("nodes", node_id)
        if not isinstance(node, dict):
            problems.append(f"nfsha:nodes:{node_id}: must be a dictionary, not {_kind(node)}")
            continue
        address = _address(config, base + ("address",), problems, network)
        _unique(addresses, address, f"nodes:{node_id}:address", problems, "address")
        role = _string(config, base + ("role",), problems)
        if role is not None and role not in ROLES:
            problems.append(
                f"nfsha:nodes:{node_id}:role: {role!r} is not one of {', '.join(ROLES)}"
            )
            continue
        if role is None:
            continue
        count[role] += 1
        for key in SERVER_KEYS:
            if role != "server" and key in node:
                problems.append(
                    f"nfsha:nodes:{node_id}:{key}: only a node with role server takes it, not a {role}"
                )
        if role == "server":
            priority = _in_range(config, base + ("priority",), 1, 254, problems)
            _unique(priorities, priority, f"nodes:{node_id}:priority", problems, "priority")
            number = _in_range(config, base + ("ocfs2_number",), 0, 254, problems)
            _unique(numbers, number, f"nodes:{node_id}:ocfs2_number", problems, "ocfs2_number")
            _interface(config, base + ("interface",), problems, required=False)
            # Derived when not given: the target's naming authority and the id.
            initiator = _ruled(config, base + ("initiator_name",), problems, "iscsi_name", required=False)
            _unique(initiators, initiator, f"nodes:{node_id}:initiator_name", problems, "initiator name")
            problem = __utils__["nfsha_rules.o2cb_node_name"](node_id)
            if problem:
                problems.append(
                    f"nfsha:nodes:{node_id}: an NFS server's id is its o2cb node name, and"
                    f" {node_id!r} {problem}"
                )
    if count["target"] != 1:
        problems.append(
            f"nfsha:nodes: needs exactly one node with role target, not {count['target']}"
        )
    if count["server"] < 2:
        problems.append(
            f"nfsha:nodes: needs at least two nodes with role server, not {count['server']}"
        )


def _check_vip(config, network, problems):
    if _get(config, ("vip",), problems, dict) is None:
        return
    vip = _address(config, ("vip", "address"), problems, network)
    nodes = config.get("nodes") if isinstance(config.get("nodes"), dict) else {}
    for node_id, node in nodes.items():
        if vip is not None and isinstance(node, dict) and str(node.get("address")) == str(vip):
            problems.append(f"nfsha:vip:address: {vip} collides with the address of node {node_id}")
    prefix = _in_range(config, ("vip", "prefix"), 1, 32, problems)
    if network and prefix and prefix not in (network.prefixlen, 32):
        problems.append(
            f"nfsha:vip:prefix: {prefix} contradicts the network {network}: keepalived would"
            f" put the VIP on /{prefix} with its route; give {network.prefixlen} (or 32, the"
            " address alone)"
        )
    _interface(config, ("vip", "interface"), problems)


def _check_iscsi(config, problems):
    if _get(config, ("iscsi",), problems, dict) is None:
        return
    _ruled(config, ("iscsi", "iqn"), problems, "iqn")
    _absolute_path(config, ("iscsi", "backing_store"), problems)
    _in_range(config, ("iscsi", "port"), 1, 65535, problems)
    _in_range(config, ("iscsi", "lun"), 1, 255, problems)
    users, secrets = {}, {}
    for account in ("chap", "mutual_chap"):
        if _get(config, ("iscsi", account), problems, dict) is None:
            continue
        users[account] = _ruled(config, ("iscsi", account, "username"), problems, "chap_word")
        secrets[account] = _ruled(config, ("iscsi", account, "password"), problems, "chap_secret")
    if secrets.get("chap") and secrets.get("chap") == secrets.get("mutual_chap"):
        problems.append(
            "nfsha:iscsi:mutual_chap:password: must differ from iscsi:chap:password (RFC 3720)"
        )
    # The target's incoming account is chap, its outgoing one mutual_chap.
    problem = users.get("mutual_chap") and __utils__["nfsha_rules.chap_accounts"](
        [users.get("chap")], users["mutual_chap"]
    )
    if problem:
        problems.append(
            f"nfsha:iscsi:mutual_chap:username: {users['mutual_chap']!r} {problem} (iscsi:chap:username)"
        )
    _check_iscsi_watchdog(config, problems)


# What the iSCSI watchdog needs, once it has found a stuck session, to bring
# the disk back before OCFS2 would fence the server: an iscsid restart and
# a login took 7-10 s in the lab (docs/failover.md).
WATCHDOG_RECOVERY_S = 10


def _check_iscsi_watchdog(config, problems):
    base = ("iscsi", "watchdog")
    if _get(config, base, problems, dict) is None:
        return
    enabled = _get(config, base + ("enabled",), problems, bool)
    stuck_after = _in_range(config, base + ("stuck_after",), 3, 600, problems)
    max_wait = _in_range(config, base + ("max_wait",), 3, 86400, problems)
    if stuck_after and max_wait and max_wait < stuck_after:
        problems.append(
            f"nfsha:iscsi:watchdog:max_wait: {max_wait} must not be shorter than stuck_after {stuck_after}"
        )
    # _check_o2cb_timeouts reports a bad threshold.
    threshold = _get(config, ("ocfs2", "timeouts", "heartbeat_threshold"), [], int)
    if enabled and stuck_after and threshold:
        dead_s = _o2cb_dead_s(threshold)
        if stuck_after + WATCHDOG_RECOVERY_S > dead_s:
            problems.append(
                f"nfsha:iscsi:watchdog:stuck_after: {stuck_after} s leaves less than {WATCHDOG_RECOVERY_S} s"
                f" before OCFS2 fences the server ({dead_s} s, from ocfs2:timeouts:heartbeat_threshold"
                f" {threshold}): lower it, raise the threshold or disable the watchdog"
            )


def _check_ocfs2(config, problems):
    if _get(config, ("ocfs2",), problems, dict) is None:
        return
    _ruled(config, ("ocfs2", "cluster_name"), problems, "ocfs2_cluster_name", "o2cb")
    _in_range(config, ("ocfs2", "port"), 1, 65535, problems)
    _in_range(config, ("ocfs2", "reboot_after_panic"), 1, 3600, problems)
    _check_o2cb_timeouts(config, problems)
    _string(
        config, ("ocfs2", "partition_label"), problems, re.compile(r"^(gpt|dos)$"), "gpt or dos"
    )
    format_node = _string(config, ("ocfs2", "format_node"), problems, required=False)
    nodes = config.get("nodes") if isinstance(config.get("nodes"), dict) else {}
    if format_node is not None and (nodes.get(format_node) or {}).get("role") != "server":
        problems.append(f"nfsha:ocfs2:format_node: {format_node!r} is not a node with role server")
    if _get(config, ("ocfs2", "filesystems"), problems, dict) is None:
        return
    labels, mount_points, points = {}, {}, {}
    for name in PARTITIONS:
        base = ("ocfs2", "filesystems", name)
        if _get(config, base, problems, dict) is None:
            continue
        label = _ruled(config, base + ("label",), problems, "ocfs2_label")
        _unique(labels, label, ":".join(base + ("label",)), problems, "label")
        # Only the last partition (data) may take the rest of the disk.
        _ruled(config, base + ("size",), problems, "partition_size", required=name == "state")
        mount_point = points[name] = _absolute_path(config, base + ("mount_point",), problems)
        _unique(
            mount_points, mount_point, ":".join(base + ("mount_point",)), problems, "mount point"
        )
        options = _get(config, base + ("options",), problems, list)
        _refuse_options(options, VOIDING_OPTIONS["ocfs2"], base + ("options",), problems)
        if name == "state":
            _refuse_options(options, VOIDING_OPTIONS["ocfs2_state"], base + ("options",), problems)
    state, data_point = points.get("state"), points.get("data")
    if state is not None and state != NFS_STATE_DIR:
        problems.append(
            f"nfsha:ocfs2:filesystems:state:mount_point: {state} is not {NFS_STATE_DIR}, where"
            " nfs-utils keeps nfsd's state (nfsdcld's client database, etab): mounted elsewhere,"
            " that state would stay on each server's own disk"
        )
    for inner, outer in (("state", "data"), ("data", "state")):
        if points.get(inner) and points.get(outer) and _under(points[inner], points[outer]):
            problems.append(
                f"nfsha:ocfs2:filesystems:{inner}:mount_point: {points[inner]} is inside the {outer}"
                f" file system's mount point {points[outer]}: each would need the other mounted first"
            )
    data = ("ocfs2", "filesystems", "data")
    _string(config, data + ("user",), problems)
    _string(config, data + ("group",), problems)
    mode = _get(config, data + ("mode",), [], object)
    if isinstance(mode, int) and not isinstance(mode, bool):
        problems.append(
            f"nfsha:ocfs2:filesystems:data:mode: must be a quoted string such as '0755', not the"
            f" number {mode} (YAML reads an unquoted 0755 as the octal number {0o755})"
        )
    else:
        _string(
            config,
            data + ("mode",),
            problems,
            re.compile(r"^0?[0-7]{3,4}$"),
            "an octal mode such as '0755'",
        )


def _under(path, parent):
    """Whether ``path`` is ``parent`` or inside it (both normalized)."""
    return path == parent or path.startswith(parent.rstrip("/") + "/")


# o2cb's lower bounds (o2cb.init configure): heartbeat threshold, then ms.
O2CB_TIMEOUTS = {
    "heartbeat_threshold": (7, 1000),
    "idle_timeout_ms": (5000, 600000),
    "keepalive_delay_ms": (1000, 600000),
    "reconnect_delay_ms": (2000, 600000),
}


def _check_o2cb_timeouts(config, problems):
    base = ("ocfs2", "timeouts")
    if _get(config, base, problems, dict) is None:
        return
    found = {key: _in_range(config, base + (key,), *bounds, problems) for key, bounds in O2CB_TIMEOUTS.items()}
    idle, keepalive = found["idle_timeout_ms"], found["keepalive_delay_ms"]
    if idle and keepalive and keepalive >= idle:
        problems.append(
            f"nfsha:ocfs2:timeouts:keepalive_delay_ms: {keepalive} must be shorter than idle_timeout_ms {idle}"
        )


def _check_exports(config, problems):
    exports = _get(config, ("exports",), problems, list)
    if exports is None:
        return
    if not exports:
        problems.append("nfsha:exports: needs at least one export")
    paths, fsids = {}, {}
    for i, export in enumerate(exports):
        base = ("exports", i)
        if not isinstance(export, dict):
            problems.append(f"nfsha:exports:{i}: must be a dictionary, not {_kind(export)}")
            continue
        path = _absolute_path(config, base + ("path",), problems)
        _unique(paths, path, f"exports:{i}:path", problems, "path")
        fsid = _fsid(config, base + ("fsid",), problems)
        _unique(fsids, fsid, f"exports:{i}:fsid", problems, "fsid")
        if path is not None:
            _check_export_path(config, i, path, fsid, problems)
        clients = _get(config, base + ("clients",), problems, list, required=False)
        if clients == []:
            # exports(5): a path without clients is exported to every host.
            hint = "" if config["roles"]["clients"] else (
                " (null takes the client nodes' addresses: the pillar has none)"
            )
            problems.append(
                f"nfsha:exports:{i}:clients: no client, so every host could mount it:"
                f" list the clients{hint}"
            )
        for j, spec in enumerate(clients or []):
            if not isinstance(spec, str) or not spec.strip() or re.search(r"[\s()]", spec):
                problems.append(
                    f"nfsha:exports:{i}:clients:{j}: {spec!r} is not a client spec (host, address, network or wildcard)"
                )
            elif _matches_every_host(spec):
                problems.append(
                    f"nfsha:exports:{i}:clients:{j}: {spec!r} lets every host mount it: name the clients,"
                    " their network or a narrower wildcard"
                )
        options = _get(config, base + ("options",), problems, list)
        for option in options or []:
            if str(option).startswith("fsid="):
                problems.append(
                    f"nfsha:exports:{i}:options: set the fsid with exports:{i}:fsid, not {option!r}"
                )
        _refuse_options(options, VOIDING_OPTIONS["export"], base + ("options",), problems)


def _fsid(config, path, problems):
    """An export's fsid as exports(5) reads it (a 32-bit number, root, or a
    UUID), the root as 0 and numbers as ints, so that equal ones compare equal."""
    fsid = _get(config, path, problems, (int, str))
    if isinstance(fsid, str) and (fsid == "root" or fsid.isdigit()):
        fsid = 0 if fsid == "root" else int(fsid)
    if isinstance(fsid, int) and 0 <= fsid < 2**32:
        return fsid
    if isinstance(fsid, str) and re.fullmatch(r"[0-9A-Fa-f]{32}", re.sub(r"[-:]", "", fsid)):
        return fsid.lower()
    if fsid is not None:
        problems.append(
            f"nfsha:{':'.join(map(str, path))}: {fsid!r} is not an fsid (a number 0-4294967295,"
            " root, or a UUID: exports(5))"
        )
    return None


def _mount_point(config, name):
    """An OCFS2 file system's mount point, normalized, or None."""
    value = config
    for key in ("ocfs2", "filesystems", name, "mount_point"):
        value = value.get(key) if isinstance(value, dict) else None
    return posixpath.normpath(value) if isinstance(value, str) and value.startswith("/") else None


def _check_export_path(config, i, path, fsid, problems):
    """Only the data file system is exported; its parent only as the NFSv4 root."""
    state, data = _mount_point(config, "state"), _mount_point(config, "data")
    if state and (_under(path, state) or _under(state, path)):
        problems.append(
            f"nfsha:exports:{i}:path: {path} would export the NFS state file system {state}"
        )
    elif data and not _under(path, data) and not (fsid == 0 and _under(data, path)):
        problems.append(
            f"nfsha:exports:{i}:path: {path} is outside the data file system {data}: a server would"
            " serve its own disk, which the other does not have after a failover (only the fsid 0"
            " export, the NFSv4 root, may be a parent of it)"
        )


def _matches_every_host(spec):
    """Whether an exports(5) client spec matches any host: a bare wildcard
    or a network of prefix 0."""
    if re.fullmatch(r"[*?]+", spec):
        return True
    try:
        return ipaddress.ip_network(spec, strict=False).prefixlen == 0
    except ValueError:
        return False


def _check_nfsd(config, problems):
    if _get(config, ("nfsd",), problems, dict) is None:
        return
    _in_range(config, ("nfsd", "threads"), 1, 1024, problems)
    # rpc.nfsd(8): the lease time must be 10 to 3600 seconds.
    lease = _in_range(config, ("nfsd", "lease_time"), 10, 3600, problems)
    grace = _in_range(config, ("nfsd", "grace_time"), 10, 3600, problems)
    if lease and grace and grace < lease:
        problems.append(
            f"nfsha:nfsd:grace_time: {grace} is shorter than lease_time {lease}: after a failover"
            " a client that renews its lease once per lease time could miss the grace period and"
            " lose its locks and opens"
        )
    _string(config, ("nfsd", "scope"), problems, re.compile(r"^\S+$"), "a scope without spaces")
    serve_on = _string(
        config, ("nfsd", "serve_on"), problems, re.compile(r"^(holder|all)$"), "holder or all"
    )
    bench = _get(config, ("nfsd", "bench_allow_serve_on_all"), problems, bool)
    if serve_on == "all" and bench is False:
        problems.append(
            "nfsha:nfsd:serve_on: 'all' runs nfsd on every server over the shared /var/lib/nfs,"
            " which has room for one writer only (docs/design.md): it is for make bench's"
            " comparison with the proof of concept, which sets nfsd:bench_allow_serve_on_all"
        )


# Options that would void what the design guarantees: option -> why.
VOIDING_OPTIONS = {
    "ocfs2": {
        "nocluster": "mounts without the cluster stack, for one node at a time (mount.ocfs2(8)),"
        " and both servers mount it: the file system would be damaged",
    },
    "ocfs2_state": {
        "localflocks": "makes flock(2) local to each server (mount.ocfs2(8)): both would take"
        " the NFS service lock, and two nfsd would write /var/lib/nfs",
    },
    "export": {
        "async": "lets nfsd acknowledge writes before they reach the shared disk (exports(5)):"
        " a failover loses them; use sync",
    },
    "client": {
        "soft": "gives applications an I/O error when a failover outlasts the retries (nfs(5)):"
        " hard mounts make writes wait for the other server",
        "softerr": "gives applications an error when a failover outlasts the retries (nfs(5)):"
        " hard mounts make writes wait for the other server",
        "bg": "leaves mount.nfs trying in the background when the server does not answer (nfs(5)):"
        " the state could not tell a mount from a failure; nfsha mounts in the foreground,"
        " bounded by call_timeouts:mount",
    },
}


def _refuse_options(options, refused, path, problems):
    for option in options or []:
        if str(option) in refused:
            problems.append(f"nfsha:{':'.join(map(str, path))}: {option} {refused[str(option)]}")


_KEEPALIVED_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")


def _check_track_script(config, base, problems):
    # A timeout may exceed the interval: keepalived skips a run while the
    # last one still runs (vrrp_scheduler.c, vrrp_script_thread).
    _in_range(config, base + ("interval",), 1, 3600, problems)
    _in_range(config, base + ("timeout",), 1, 3600, problems)
    _in_range(config, base + ("fall",), 1, 100, problems)
    _in_range(config, base + ("rise",), 1, 100, problems)


def _check_keepalived(config, problems):
    if _get(config, ("keepalived",), problems, dict) is None:
        return
    base = ("keepalived",)
    # keepalived.conf and the notify script's shell test take it unquoted.
    _string(
        config,
        base + ("instance",),
        problems,
        _KEEPALIVED_NAME,
        "an instance name of letters, digits and _.-",
    )
    _in_range(config, base + ("virtual_router_id",), 1, 255, problems)
    version = _get(config, base + ("vrrp_version",), problems, int)
    if version is not None and version not in (2, 3):
        problems.append(f"nfsha:keepalived:vrrp_version: {version} is not 2 or 3")
        version = None
    # VRRPv2 advertises in whole seconds; VRRPv3 in centiseconds, up to 40.95 s.
    advert_int = _get(config, base + ("advert_int",), problems, (int, float))
    if isinstance(advert_int, bool):
        problems.append(f"nfsha:keepalived:advert_int: must be int or float, not bool {advert_int}")
    elif advert_int is not None and version == 3 and not 0.01 <= advert_int <= 40.95:
        problems.append(
            f"nfsha:keepalived:advert_int: {advert_int} is out of range 0.01-40.95 (vrrp_version 3)"
        )
    elif isinstance(advert_int, float) and version == 2:
        problems.append(
            f"nfsha:keepalived:advert_int: {advert_int} needs vrrp_version 3"
            " (VRRPv2 advertises in whole seconds, 1-255)"
        )
    elif advert_int is not None and version == 2 and not 1 <= advert_int <= 255:
        problems.append(f"nfsha:keepalived:advert_int: {advert_int} is out of range 1-255")
    initial_state = _string(
        config,
        base + ("initial_state",),
        problems,
        re.compile(r"^(MASTER|BACKUP)$"),
        "MASTER or BACKUP",
    )
    auth_type = _string(
        config,
        base + ("auth_type",),
        problems,
        re.compile(r"^(PASS|AH)$"),
        "PASS or AH",
        required=False,
    )
    if auth_type and version == 3:
        problems.append(
            f"nfsha:keepalived:auth_type: {auth_type!r} conflicts with vrrp_version 3,"
            " which has no authentication (RFC 5798): set auth_type to null"
        )
    if auth_type:
        _ruled(config, base + ("auth_pass",), problems, "vrrp_auth_pass")
    preempt = _get(config, base + ("preempt",), problems, bool)
    if preempt is False and initial_state == "MASTER":
        problems.append(
            "nfsha:keepalived:preempt: false needs initial_state BACKUP"
            " (keepalived ignores nopreempt with state MASTER)"
        )
    delay = _in_range(config, base + ("preempt_delay",), 0, 1000, problems)
    if preempt is False and delay:
        problems.append(
            f"nfsha:keepalived:preempt_delay: {delay} means nothing with preempt false"
            " (keepalived drops it with nopreempt): set it to 0"
        )
    _get(config, base + ("unicast",), problems, bool)
    targets = _get(config, base + ("ping_targets",), problems, list, required=False)
    nodes = config.get("nodes") if isinstance(config.get("nodes"), dict) else {}
    for i, target in enumerate(targets or []):
        if not isinstance(target, (str, int)) or target not in nodes:
            problems.append(f"nfsha:keepalived:ping_targets:{i}: {target!r} is not a node id")
        elif target in config["roles"]["servers"]:
            problems.append(
                f"nfsha:keepalived:ping_targets:{i}: {target!r} is an NFS server: when it fails, the"
                " other server's ping check fails too and neither holds the VIP; ping the clients"
            )
    for check in ("ping_check", "nfs_check"):
        if _get(config, base + (check,), problems, dict) is not None:
            _check_track_script(config, base + (check,), problems)
    _check_lock_wait(config, problems)
    scripts = _get(config, base + ("track_scripts",), problems, dict, required=False)
    for name in scripts or {}:
        if _get(config, base + ("track_scripts", name), problems, dict) is None:
            continue
        if name == "check_nfs" or str(name).startswith("ping_"):
            problems.append(
                f"nfsha:keepalived:track_scripts:{name}: the formula's own track scripts"
                " are named check_nfs and ping_<node>: choose another name"
            )
        elif not _KEEPALIVED_NAME.match(str(name)):
            problems.append(
                f"nfsha:keepalived:track_scripts:{name}: a track script's name is letters, digits"
                " and _.- (keepalived.conf takes it unquoted)"
            )
        # keepalived.conf quotes it.
        _string(
            config,
            base + ("track_scripts", name, "script"),
            problems,
            re.compile(r'^[^"\x00-\x1f\x7f]+$'),
            "a command without '\"' or control characters",
        )
        _check_track_script(config, base + ("track_scripts", name), problems)


def _check_lock_wait(config, problems):
    path = ("keepalived", "nfs_check", "lock_wait")
    lock_wait = _in_range(config, path, NFS_CHECK_STARTUP_S + 1, 3600, problems, required=False)
    threshold = _get(config, ("ocfs2", "timeouts", "heartbeat_threshold"), [], int)
    if lock_wait and threshold and lock_wait <= _o2cb_dead_s(threshold):
        problems.append(
            f"nfsha:keepalived:nfs_check:lock_wait: {lock_wait} s is not longer than o2cb's dead time"
            f" ({_o2cb_dead_s(threshold)} s, from ocfs2:timeouts:heartbeat_threshold {threshold}):"
            " a takeover after a crash would give up before OCFS2 releases the dead server's lock"
        )


# The programs whose bound pillar sets (nfsha:call_timeouts), in seconds.
CALL_TIMEOUTS = ("tgtadm", "iscsiadm", "iscsi_login", "ocfs2", "mkfs", "mount", "scsi_fence")


def _check_call_timeouts(config, problems):
    if _get(config, ("call_timeouts",), problems, dict) is None:
        return
    for key in CALL_TIMEOUTS:
        # 0 would mean no bound at all to Salt's cmd.run_all.
        _in_range(config, ("call_timeouts", key), 1, 86400, problems)


def _check_client(config, problems):
    if _get(config, ("client",), problems, dict) is None:
        return
    mounts = _get(config, ("client", "mounts"), problems, list)
    seen = {}
    for i, mount in enumerate(mounts or []):
        base = ("client", "mounts", i)
        if not isinstance(mount, dict):
            problems.append(f"nfsha:client:mounts:{i}: must be a dictionary, not {_kind(mount)}")
            continue
        mount_point = _absolute_path(config, base + ("mount_point",), problems)
        _unique(seen, mount_point, f"client:mounts:{i}:mount_point", problems, "mount point")
        export = _absolute_path(config, base + ("export",), problems)
        if export is not None:
            _check_client_export(config, i, export, problems)
        options = _get(config, base + ("options",), problems, list)
        _refuse_options(options, VOIDING_OPTIONS["client"], base + ("options",), problems)
        for option in options or []:
            if re.fullmatch(r"(nfs)?vers=[23](\.\d+)?|v[23]", str(option)):
                problems.append(
                    f"nfsha:client:mounts:{i}:options: {option} asks for NFSv{str(option)[-1]}, and the"
                    " servers serve NFSv4 only (nfs.conf vers3=n)"
                )


def _check_client_export(config, i, export, problems):
    """The path a client mounts is one an export serves: NFSv4 paths start at
    the fsid 0 export (at / when there is none)."""
    exports = config.get("exports") if isinstance(config.get("exports"), list) else []
    paths, root = {}, "/"
    for j, entry in enumerate(exports):
        path = entry.get("path") if isinstance(entry, dict) else None
        if isinstance(path, str) and path.startswith("/"):
            path = posixpath.normpath(path)
            paths[path] = "crossmnt" in (entry.get("options") or [])
            if _fsid(config, ("exports", j, "fsid"), []) == 0:
                root = path
    full = posixpath.normpath(posixpath.join(root, export.lstrip("/")))
    data = _mount_point(config, "data") or "/"
    # An export serves its own directories on the data file system, and with
    # crossmnt the file systems mounted below it (exports(5)).
    if paths and not any(
        full == path or _under(full, path) and _under(full, data) and (_under(path, data) or crossmnt)
        for path, crossmnt in paths.items()
    ):
        problems.append(
            f"nfsha:client:mounts:{i}:export: {export} is {full} on the servers (NFSv4 paths start at"
            f" the fsid 0 export, {root}), and no export serves it"
        )
