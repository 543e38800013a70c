"""
Mount and unmount within a bound. Salt's ``mount.mount`` and
``mount.umount`` wait for mount(8) and umount(8) without a limit, and an
NFS server that does not answer keeps both waiting: with a hard NFSv4
mount the kernel retries setting up its client ID for as long as the
server is silent, whatever mount.nfs's ``retry=``, and umount waits for the
server to take the mount's last writes (docs/design.md, "Every program call
is bounded").

:depends: util-linux (mount, umount)
"""
import salt.utils.path
from salt.exceptions import CommandExecutionError

__virtualname__ = "nfsha_mount"

# Longer than mount.nfs's own retries of a foreground mount (retry=, 2
# minutes by default: nfs(5)), so that mount.nfs says why it gave up.
CALL_TIMEOUT = 150

_HINT = "server not answering?"


def __virtual__():
    if salt.utils.path.which("mount") and salt.utils.path.which("umount"):
        return __virtualname__
    return (False, "nfsha_mount: mount and umount (util-linux) are not installed")


def mount(name, device, fstype, opts=None, call_timeout=None):
    """
    Mount ``device``, a file system of type ``fstype``, on the directory
    ``name`` with the options ``opts`` (a list), within ``call_timeout``
    seconds (default CALL_TIMEOUT). Return True; raise
    CommandExecutionError with mount's message, or naming the mount when it
    outlasts its bound.

    CLI Example:

    .. code-block:: bash

        salt client nfsha_mount.mount /data 192.168.56.10:/data nfs4 '[rw, hard]' call_timeout=150
    """
    argv = ["mount", "-t", fstype]
    if opts:
        argv += ["-o", ",".join(opts)]
    _run([*argv, device, name], f"mount {name}", call_timeout)
    return True


def umount(name, call_timeout=None):
    """
    Unmount the file system mounted on ``name`` within ``call_timeout``
    seconds (default CALL_TIMEOUT). Return True; raise
    CommandExecutionError with umount's message (``target is busy``), or
    naming the unmount when it outlasts its bound.

    umount makes the umount(2) call itself (``--internal-only``): for an
    NFSv4 mount, umount.nfs4 would make that same call and nothing else
    (nfs-utils ``nfsumount.c``), but as a child that the kill at the bound
    does not reach.

    CLI Example:

    .. code-block:: bash

        salt client nfsha_mount.umount /data call_timeout=150
    """
    _run(["umount", "--internal-only", name], f"umount {name}", call_timeout)
    return True


def _run(argv, what, call_timeout):
    timeout = __utils__["nfsha_calls.seconds"](call_timeout, CALL_TIMEOUT)
    ret = __utils__["nfsha_calls.run_all"](__salt__["cmd.run_all"], argv, timeout, what, _HINT)
    if ret["retcode"]:
        raise CommandExecutionError(
            ret["stderr"].strip() or ret["stdout"].strip() or f"{argv[0]} exited with {ret['retcode']}"
        )
