"""
Measure how an NFS mount answers, from the client's side: the longest
time the server took to answer, e.g. while the service moves to the other
server.

The probe asks for the file system's statistics (``statvfs``), which the
Linux NFS client never answers from its caches: every call is a round trip
to the server (an NFSv4 GETATTR of the space attributes). It reads nothing
and writes nothing, so it works for any user, whatever the export's
permissions.

:depends: a Linux NFS client mount
"""
import os
import time

from salt.exceptions import SaltInvocationError

__virtualname__ = "nfsha_probe"


def __virtual__():
    return __virtualname__


def stalls(path, seconds=20, interval=0.1):
    """
    Ask the server behind ``path`` for its statistics every ``interval``
    seconds for ``seconds`` seconds (the last call may end later: a hard
    mount waits for the server) and return ``{calls, longest_s, at,
    seconds}``: how many calls, the longest one and when it started (Unix
    time), and how long the probe ran.

    CLI Example:

    .. code-block:: bash

        salt client nfsha_probe.stalls /data seconds=30
    """
    seconds, interval = float(seconds), float(interval)
    if not os.path.ismount(path):
        raise SaltInvocationError(f"nfsha_probe: {path} is not a mount point")
    started = time.monotonic()
    calls, longest, longest_at = 0, 0.0, None
    while time.monotonic() - started < seconds:
        call_at, before = time.time(), time.monotonic()
        os.statvfs(path)
        took = time.monotonic() - before
        calls += 1
        if took > longest:
            longest, longest_at = took, call_at
        time.sleep(max(0.0, interval - took))
    return {
        "calls": calls,
        "longest_s": round(longest, 3),
        "at": longest_at,
        "seconds": round(time.monotonic() - started, 3),
    }
