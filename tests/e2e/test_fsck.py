"""
After the failover scenarios (it runs after them): the shared OCFS2 file
systems, unmounted on both servers, pass a full read-only fsck.ocfs2. No
fault of the tier (a server killed, cut off, frozen and resumed) left
damage on the shared disk.
"""
from tests.support.failover import CONFIG, SERVERS, NFS_LOCK_UNIT

FILESYSTEMS = CONFIG["ocfs2"]["partitions"]
# What holds the file systems on a server: the VIP (keepalived), nfsd and
# the NFS service lock; stopping keepalived first keeps the other server
# from starting its nfsd.
SERVICES = ("keepalived", "nfs-server", NFS_LOCK_UNIT)


def test_the_shared_file_systems_are_clean_after_the_faults(lab):
    unmount = "; ".join(f"umount {fs['mount_point']}" for fs in reversed(FILESYSTEMS))
    try:
        for server in SERVERS:
            lab.sh(server, f"systemctl stop {' '.join(SERVICES)}; {unmount}")
        for fs in FILESYSTEMS:
            # -f: a full check, also of a file system marked clean; -n:
            # read-only. fsck.ocfs2 exits non-zero when it finds an error.
            out = lab.sh(SERVERS[0], f"fsck.ocfs2 -fn {fs['partition']} 2>&1")
            assert "All passes succeeded." in out, out
    finally:
        # The service back, for a lab kept after the tier (NFSHA_LAB_KEEP=1):
        # every server's mounts first, through systemd (each registers the
        # server's SCSI key first), then keepalived: a server still out of
        # the cluster when the other takes the NFS lock is fenced.
        mounts = " ".join(fs["mount_point"] for fs in FILESYSTEMS)
        for server in SERVERS:
            lab.sh(server, f"systemctl start $(systemd-escape --path --suffix=mount {mounts})")
        for server in SERVERS:
            lab.sh(server, "systemctl start keepalived")
