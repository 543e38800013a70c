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
import ipaddress
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
# Where the secrets live under the nfsha pillar key.
SECRETS = (
    ("iscsi", "chap", "password"),
    ("iscsi", "mutual_chap", "password"),
    ("keepalived", "auth_pass"),
)

# RFC 3720 3.2.6.3.1: iqn.yyyy-mm.reversed-domain[:unique-name]
_IQN = re.compile(
    r"^iqn\.\d{4}-(0[1-9]|1[0-2])\.[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*(:[a-z0-9.:_-]+)?$"
)
# o2cb: cluster and node names are alphanumerics and '_', at most 16 long.
_O2CB_NAME = re.compile(r"^[A-Za-z0-9_]{1,16}$")
# sfdisk size syntax: a number with an optional K/M/G/T suffix (binary units).
_SIZE = re.compile(r"^[1-9][0-9]*(K|M|G|T)?(iB)?$")
# CHAP secrets: RFC 3720 wants at least 12 bytes; 16 is the most initiators
# accept.
CHAP_SECRET_LENGTH = (12, 16)
# keepalived truncates PASS authentication to 8 characters.
VRRP_PASS_MAX = 8


def __virtual__():
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
    merged = salt.utils.dictupdate.merge(
        defaults.get("nfsha", {}),
        __pillar__.get("nfsha", {}),
        strategy="recurse",
        merge_lists=False,
    )
    config = _derive(merged, __grains__.get("id"))
    config.update(__salt__["grains.filter_by"](osfamilymap, grain="os_family") or {})
    return config


def validate(defaults=None):
    """
    Check the whole cluster definition and return every problem found, each
    as ``"nfsha:<key path>: <what is wrong>"``; an empty list means valid.

    defaults
        As for :py:func:`settings`.

    CLI Example:

    .. code-block:: bash

        salt '*' nfsha.validate
    """
    return check(settings(defaults))


def check(config):
    """
    Return the problems of a cluster definition given as a dictionary (the
    merged settings), without reading pillar. :py:func:`validate` is this on
    the minion's own settings.

    CLI Example:

    .. code-block:: bash

        salt-call nfsha.check '{"nodes": {}}'
    """
    if not isinstance(config, dict):
        return [f"nfsha: must be a dictionary, not {_kind(config)}"]
    problems = []
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


def secrets_as_slots(config=None):
    """
    Return a copy of a cluster definition (``config``, the merged settings;
    this minion's :py:func:`settings` when not given) with every
    secret replaced by a Salt slot that reads it from pillar when a state
    runs. map.jinja hands this to the SLS files: rendered state data
    (``state.show_sls``, job returns, the master's and minions' logs) then
    never holds a secret. Salt resolves slots in an argument's own value,
    in the values of a dictionary argument and in dictionaries in a list.

    CLI Example:

    .. code-block:: bash

        salt nfs1 nfsha.secrets_as_slots
    """
    config = copy.deepcopy(settings() if config is None else config)
    for path in SECRETS:
        parent = config
        for key in path[:-1]:
            parent = parent.get(key) if isinstance(parent, dict) else None
        if isinstance(parent, dict) and path[-1] in parent:
            parent[path[-1]] = f"__slot__:salt:pillar.get(nfsha:{':'.join(path)}, unmask=True)"
    return config


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
    iscsi = config.get("iscsi")
    target = nodes.get(targets[0]) if targets else None
    if isinstance(iscsi, dict) and isinstance(target, dict):
        iscsi["portal"] = f"{target.get('address')}:{iscsi.get('port')}"
        # udev's stable name of the LUN on the initiators, whatever sdX it gets.
        iscsi["device"] = (
            f"/dev/disk/by-path/ip-{iscsi['portal']}-iscsi-{iscsi.get('iqn')}-lun-{iscsi.get('lun')}"
        )
        # Each server needs its own initiator name: VMs cloned from one image
        # would otherwise share the one the package generated.
        naming_authority = str(iscsi.get("iqn")).split(":", 1)[0]
        for server in servers:
            nodes[server].setdefault("initiator_name", f"{naming_authority}:{server}")
        filesystems = ocfs2.get("filesystems") if isinstance(ocfs2, dict) else None
        if isinstance(filesystems, dict) and all(
            isinstance(filesystems.get(n), dict) for n in PARTITIONS
        ):
            ocfs2["partitions"] = []
            for number, name in enumerate(PARTITIONS, start=1):
                filesystems[name].update(name=name, partition=f"{iscsi['device']}-part{number}")
                ocfs2["partitions"].append(filesystems[name])
    me = nodes.get(minion_id)
    config["me"] = dict(me, id=minion_id) if isinstance(me, dict) else None
    return config


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
        problems.append(
            f"nfsha:{':'.join(map(str, path))}: must be {names}, not {_kind(value)} {value!r}"
        )
        return None
    return value


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


def _absolute_path(config, path, problems, required=True):
    value = _get(config, path, problems, str, required)
    if value is not None and not value.startswith("/"):
        problems.append(f"nfsha:{':'.join(map(str, path))}: {value!r} is not an absolute path")
        return None
    return value


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


def _secret(config, path, problems, low, high):
    """Check a secret's length; the message never shows the secret."""
    value = _get(config, path, problems, str)
    if value is not None and not low <= len(value) <= high:
        problems.append(
            f"nfsha:{':'.join(path)}: must be {low} to {high} characters long, not {len(value)}"
        )
    return value


def _unique(seen, value, path, problems, what):
    if value is None:
        return
    if value in seen:
        problems.append(f"nfsha:{path}: {what} {value} is already used by {seen[value]}")
    else:
        seen[value] = path


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
    addresses, priorities, numbers = {}, {}, {}
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
        if role == "server":
            priority = _in_range(config, base + ("priority",), 1, 254, problems)
            _unique(priorities, priority, f"nodes:{node_id}:priority", problems, "priority")
            number = _in_range(config, base + ("ocfs2_number",), 0, 254, problems)
            _unique(numbers, number, f"nodes:{node_id}:ocfs2_number", problems, "ocfs2_number")
            _string(config, base + ("interface",), problems, required=False)
            _string(
                config, base + ("initiator_name",), problems, _IQN, "a valid IQN", required=False
            )
            if not _O2CB_NAME.match(str(node_id)):
                problems.append(
                    f"nfsha:nodes:{node_id}: an NFS server's id is its OCFS2 node name:"
                    " letters, digits and '_', at most 16"
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
    _in_range(config, ("vip", "prefix"), 1, 32, problems)
    _string(config, ("vip", "interface"), problems)


def _check_iscsi(config, problems):
    if _get(config, ("iscsi",), problems, dict) is None:
        return
    _string(
        config,
        ("iscsi", "iqn"),
        problems,
        _IQN,
        "a valid IQN (iqn.yyyy-mm.reversed.domain:name, lower case)",
    )
    _absolute_path(config, ("iscsi", "backing_store"), problems)
    _in_range(config, ("iscsi", "port"), 1, 65535, problems)
    _in_range(config, ("iscsi", "lun"), 1, 255, problems)
    secrets = {}
    for account in ("chap", "mutual_chap"):
        if _get(config, ("iscsi", account), problems, dict) is None:
            continue
        _string(
            config,
            ("iscsi", account, "username"),
            problems,
            re.compile(r"^\S+$"),
            "a user name without spaces",
        )
        secrets[account] = _secret(
            config, ("iscsi", account, "password"), problems, *CHAP_SECRET_LENGTH
        )
    if secrets.get("chap") and secrets.get("chap") == secrets.get("mutual_chap"):
        problems.append(
            "nfsha:iscsi:mutual_chap:password: must differ from iscsi:chap:password (RFC 3720)"
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
        dead_s = (threshold - 1) * 2
        if stuck_after + WATCHDOG_RECOVERY_S > dead_s:
            problems.append(
                f"nfsha:iscsi:watchdog:stuck_after: {stuck_after} s leaves less than {WATCHDOG_RECOVERY_S} s"
                f" before OCFS2 fences the server ({dead_s} s, from ocfs2:timeouts:heartbeat_threshold"
                f" {threshold}): lower it, raise the threshold or disable the watchdog"
            )


def _check_ocfs2(config, problems):
    if _get(config, ("ocfs2",), problems, dict) is None:
        return
    _string(
        config,
        ("ocfs2", "cluster_name"),
        problems,
        _O2CB_NAME,
        "an o2cb cluster name (letters, digits, '_', at most 16)",
    )
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
    labels, mount_points = {}, {}
    for name in PARTITIONS:
        base = ("ocfs2", "filesystems", name)
        if _get(config, base, problems, dict) is None:
            continue
        label = _string(
            config,
            base + ("label",),
            problems,
            re.compile(r"^\S{1,63}$"),
            "a label without spaces, at most 63 characters",
        )
        _unique(labels, label, ":".join(base + ("label",)), problems, "label")
        # Only the last partition (data) may take the rest of the disk.
        _string(
            config,
            base + ("size",),
            problems,
            _SIZE,
            "a size like 64M or 2G",
            required=name == "state",
        )
        mount_point = _absolute_path(config, base + ("mount_point",), problems)
        _unique(
            mount_points, mount_point, ":".join(base + ("mount_point",)), problems, "mount point"
        )
        _get(config, base + ("options",), problems, list)
    data = ("ocfs2", "filesystems", "data")
    _string(config, data + ("user",), problems)
    _string(config, data + ("group",), problems)
    _string(
        config,
        data + ("mode",),
        problems,
        re.compile(r"^0?[0-7]{3,4}$"),
        "an octal mode such as '0755'",
    )


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
        fsid = _get(config, base + ("fsid",), problems, (int, str))
        _unique(fsids, fsid, f"exports:{i}:fsid", problems, "fsid")
        clients = _get(config, base + ("clients",), problems, list, required=False)
        for j, spec in enumerate(clients or []):
            if not isinstance(spec, str) or not spec.strip() or re.search(r"[\s()]", spec):
                problems.append(
                    f"nfsha:exports:{i}:clients:{j}: {spec!r} is not a client spec (host, address, network or wildcard)"
                )
        options = _get(config, base + ("options",), problems, list)
        for option in options or []:
            if str(option).startswith("fsid="):
                problems.append(
                    f"nfsha:exports:{i}:options: set the fsid with exports:{i}:fsid, not {option!r}"
                )


def _check_nfsd(config, problems):
    if _get(config, ("nfsd",), problems, dict) is None:
        return
    _in_range(config, ("nfsd", "threads"), 1, 1024, problems)
    # rpc.nfsd(8): the lease time must be 10 to 3600 seconds.
    _in_range(config, ("nfsd", "lease_time"), 10, 3600, problems)
    _in_range(config, ("nfsd", "grace_time"), 10, 3600, problems)
    _string(config, ("nfsd", "scope"), problems, re.compile(r"^\S+$"), "a scope without spaces")
    _string(config, ("nfsd", "serve_on"), problems, re.compile(r"^(holder|all)$"), "holder or all")


def _check_track_script(config, base, problems):
    interval = _in_range(config, base + ("interval",), 1, 3600, problems)
    timeout = _in_range(config, base + ("timeout",), 1, 3600, problems)
    if interval and timeout and timeout >= interval:
        problems.append(
            f"nfsha:{':'.join(base)}:timeout: {timeout} must be shorter than the interval {interval}"
        )
    _in_range(config, base + ("fall",), 1, 100, problems)
    _in_range(config, base + ("rise",), 1, 100, problems)


def _check_keepalived(config, problems):
    if _get(config, ("keepalived",), problems, dict) is None:
        return
    base = ("keepalived",)
    _string(
        config,
        base + ("instance",),
        problems,
        re.compile(r"^\S+$"),
        "an instance name without spaces",
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
        _secret(config, base + ("auth_pass",), problems, 1, VRRP_PASS_MAX)
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
        if target not in nodes:
            problems.append(f"nfsha:keepalived:ping_targets:{i}: {target!r} is not a node id")
    for check in ("ping_check", "nfs_check"):
        if _get(config, base + (check,), problems, dict) is not None:
            _check_track_script(config, base + (check,), problems)
    scripts = _get(config, base + ("track_scripts",), problems, dict, required=False)
    for name in scripts or {}:
        if _get(config, base + ("track_scripts", name), problems, dict) is None:
            continue
        if name == "check_nfs" or str(name).startswith("ping_"):
            problems.append(
                f"nfsha:keepalived:track_scripts:{name}: the formula's own track scripts"
                " are named check_nfs and ping_<node>: choose another name"
            )
        _string(config, base + ("track_scripts", name, "script"), problems)
        _check_track_script(config, base + ("track_scripts", name), problems)


# The programs whose bound pillar sets (nfsha:call_timeouts), in seconds.
CALL_TIMEOUTS = ("tgtadm", "iscsiadm", "iscsi_login", "ocfs2", "mkfs")


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
        _absolute_path(config, base + ("export",), problems)
        _get(config, base + ("options",), problems, list)
