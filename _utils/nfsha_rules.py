"""
What the tools take: the rules a value of the nfsha formula must follow for
tgt, open-iscsi, o2cb, mkfs.ocfs2, sfdisk and keepalived to accept it and
read it as meant. Each rule lives here once, and both the pillar's
validation (``nfsha.validate``) and the execution modules' own argument
checks call it, so the two cannot disagree.

A rule returns None for a good value, or what is wrong as a phrase that
never repeats the value (it may be a secret): the caller names the key or
the argument, and shows the value when it is not a secret.

Execution modules reach these as ``__utils__["nfsha_rules.<rule>"]``
(``saltutil.sync_utils``, which the formula's ``nfsha.sync`` runs, ships
them to the minions; ``salt-run saltutil.sync_all`` to the master).
"""
import re

# RFC 3720 3.2.6.3: iqn.yyyy-mm.reversed-domain[:unique-name], eui. with 16
# hex digits, and naa. with 16 or 32 (RFC 3980). RFC 3722's stringprep maps
# names to lower case and leaves, of ASCII, only letters, digits, '-', '.'
# and ':' (it prohibits '_', '/', spaces...).
_IQN = re.compile(
    r"iqn\.\d{4}-(0[1-9]|1[0-2])\.[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*"
    r"(:[a-z0-9.:-]+)?"
)
_EUI_NAA = re.compile(r"eui\.[0-9A-Fa-f]{16}|naa\.[0-9A-Fa-f]{16}([0-9A-Fa-f]{16})?")
# RFC 3720 3.2.6.1: an iSCSI name is at most 223 bytes.
_ISCSI_NAME_BYTES = 223

# o2cb and mkfs.ocfs2 (o2cb_valid_o2cb_cluster_name): an o2cb cluster name
# is 1-16 letters or digits; the other stacks take any 1-16 bytes.
_O2CB_CLUSTER_NAME = re.compile(r"[A-Za-z0-9]{1,16}")
_CLUSTER_NAME_BYTES = 16
# o2cb takes a node for this host when its name is the host name up to its
# first '.', compared without case (o2cb_ctl's o2cb_node_is_local): a host
# name. The kernel keeps 64 bytes of it (O2NM_MAX_NAME_LEN).
_HOST_LABEL = re.compile(r"[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?")
_NODE_NAME_BYTES = 64
# mkfs.ocfs2 -L: less than OCFS2_MAX_VOL_LABEL_LEN (64) bytes.
_LABEL_BYTES = 63

# sfdisk's size syntax (util-linux parse_size), with a unit: K, M, G...
# and KiB, MiB... are powers of 1024, KB, MB... powers of 1000.
_SIZE = re.compile(r"(\d+)([KMGTPE])(iB|B)?", re.IGNORECASE)
_UNITS = "KMGTPE"

# Paths go unquoted into targets.conf, fstab, exports and shell scripts
# (tgt-admin hands a backing store to /bin/sh): plain characters only.
_PATH = re.compile(r"/[A-Za-z0-9._+=@:,/-]*")

# tgt-admin reads targets.conf with Perl's Config::General, splits a CHAP
# line on spaces and runs each tgtadm call through /bin/sh; keepalived's
# parser ends a word at a blank or '"', and a line at '!' or '#'. Names and
# secrets keep to characters that survive all of these unquoted.
_WORD = re.compile(r"[A-Za-z0-9._+=@:/-]+")
_WORD_CHARACTERS = "letters, digits and ._+=@:/-"
# tgtd keeps CHAP user names and secrets in ISCSI_NAME_LEN (256) byte buffers.
_CHAP_WORD_BYTES = 255
# RFC 3720 8.2.1: a CHAP secret of at least 12 bytes (96 bits) unless IPsec
# protects the link; initiators commonly take at most 16.
CHAP_SECRET_BYTES = (12, 16)
# keepalived keeps 8 bytes of auth_pass (vrrp_t.auth_data) and drops the rest.
VRRP_PASS_BYTES = (1, 8)


def iscsi_name(value):
    """An iSCSI name (RFC 3720): iqn. (lower case), eui. or naa. form."""
    if not isinstance(value, str) or not (_IQN.fullmatch(value) or _EUI_NAA.fullmatch(value)):
        return (
            "is not an iSCSI name (iqn.yyyy-mm.reversed.domain[:name] in lower case,"
            " eui.<16 hex digits> or naa.<16 or 32 hex digits>)"
        )
    if len(value.encode()) > _ISCSI_NAME_BYTES:
        return f"is longer than {_ISCSI_NAME_BYTES} bytes (RFC 3720)"
    return None


def iqn(value):
    """An iSCSI name of the iqn. form, the one that carries a naming authority."""
    if not isinstance(value, str) or not value.startswith("iqn.") or iscsi_name(value):
        return "is not a valid IQN (iqn.yyyy-mm.reversed.domain[:name], lower case, at most 223 bytes)"
    return None


def ocfs2_cluster_name(value, stack="o2cb"):
    """A cluster name as mkfs.ocfs2 and o2cb take it for ``stack``."""
    if stack == "o2cb":
        if not isinstance(value, str) or not _O2CB_CLUSTER_NAME.fullmatch(value):
            return "is not a valid cluster name (o2cb: 1-16 letters or digits, no '_', '-' or '.')"
    elif (
        not isinstance(value, str)
        or not 0 < len(value.encode()) <= _CLUSTER_NAME_BYTES
        or re.search(r"\s", value)
    ):
        return f"is not a valid cluster name ({stack}: 1-16 bytes, no spaces)"
    return None


def o2cb_node_name(value):
    """An o2cb node name: the node's host name (o2cb finds the local node by it)."""
    if (
        not isinstance(value, str)
        or len(value.encode()) > _NODE_NAME_BYTES
        or not all(_HOST_LABEL.fullmatch(label) for label in value.split("."))
    ):
        return (
            "is not an o2cb node name: the server's host name (letters, digits and '-',"
            f" labels joined by '.', at most {_NODE_NAME_BYTES} bytes)"
        )
    return None


def ocfs2_label(value):
    """A file system label that mkfs.ocfs2 takes and a mount can name."""
    if not isinstance(value, str) or not value.isprintable() or not value or re.search(r"\s", value):
        return "is not a file system label (printable, no spaces)"
    if len(value.encode()) > _LABEL_BYTES:
        return f"is longer than {_LABEL_BYTES} bytes (mkfs.ocfs2 -L)"
    return None


def partition_size(value):
    """A partition size as sfdisk reads it, with a unit, not zero."""
    if not isinstance(value, str) or not _SIZE.fullmatch(value):
        return "is not a size with a unit such as 64M, 64MiB or 64MB"
    if not size_bytes(value):
        return "is empty"
    return None


def size_bytes(value):
    """The bytes of a size that :py:func:`partition_size` accepts."""
    digits, unit, suffix = _SIZE.fullmatch(value).groups()
    base = 1000 if suffix and suffix.lower() == "b" else 1024
    return int(digits) * base ** (_UNITS.index(unit.upper()) + 1)


def plain_path(value):
    """An absolute path that every file the formula writes takes unquoted."""
    if not isinstance(value, str) or not _PATH.fullmatch(value):
        return (
            "is not an absolute path of letters, digits and ._+=@:,/- (it goes unquoted"
            " into targets.conf, fstab, exports and scripts)"
        )
    return None


def chap_word(value):
    """A CHAP user name or secret that tgt-admin and tgtadm take as written."""
    if not isinstance(value, str) or not _WORD.fullmatch(value):
        return f"must be made of {_WORD_CHARACTERS} only (tgt-admin passes it through a shell)"
    if len(value.encode()) > _CHAP_WORD_BYTES:
        return f"is longer than {_CHAP_WORD_BYTES} bytes (tgtd keeps no more)"
    return None


def chap_secret(value):
    """A CHAP secret: a :py:func:`chap_word` of 12 to 16 bytes."""
    low, high = CHAP_SECRET_BYTES
    problem = chap_word(value)
    if problem:
        return problem
    if not low <= len(value.encode()) <= high:
        return f"must be {low} to {high} bytes long, not {len(value.encode())}"
    return None


def chap_accounts(incoming_users, outgoing_user):
    """Distinct user names for the incoming accounts and the outgoing one:
    tgtd keeps one secret per account, and mutual CHAP needs two."""
    if outgoing_user in incoming_users:
        return "is also an incoming user: tgtd keeps one secret per account, and mutual CHAP needs two"
    return None


def vrrp_auth_pass(value):
    """A VRRP PASS password keepalived reads whole: 1 to 8 bytes of safe characters."""
    low, high = VRRP_PASS_BYTES
    if not isinstance(value, str) or not _WORD.fullmatch(value):
        return (
            f"must be made of {_WORD_CHARACTERS} only"
            " (keepalived ends it at a blank, '\"', '!' or '#')"
        )
    if not low <= len(value.encode()) <= high:
        return f"must be {low} to {high} bytes long, not {len(value.encode())} (keepalived drops the rest)"
    return None
