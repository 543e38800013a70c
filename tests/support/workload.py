#!/usr/bin/python3
"""
The failover tests' workload, run on the client as the data owner: writes
numbered records to FILE on the NFS mount, each one fsync'ed, every 50 ms,
and logs each acknowledged record to LOG (a local file) as
"PHASE N START END" (the client's clock, when the write began and when
fsync returned). PHASE is what CONTROL holds; "stop" in CONTROL ends the
run, with "done" as the log's last line. A write blocks while the server
is away (a hard mount): its END minus START is the client's stall. A write
or fsync that fails ends the run with "failed N START END ERROR" (ERROR:
the errno's name, as ESTALE) as the log's last line.

    workload.py FILE LOG CONTROL
"""
import errno
import os
import sys
import time

INTERVAL = 0.05


def main(path, log_path, control):
    out = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    number = 0
    with open(log_path, "a", buffering=1) as log:
        while True:
            with open(control) as fh:
                phase = fh.read().strip() or "start"
            if phase == "stop":
                break
            number += 1
            start = time.time()
            try:
                os.write(out, b"%08d\n" % number)
                os.fsync(out)
            except OSError as error:
                name = errno.errorcode.get(error.errno, str(error.errno))
                log.write(f"failed {number} {start:.3f} {time.time():.3f} {name}\n")
                return 1
            log.write(f"{phase} {number} {start:.3f} {time.time():.3f}\n")
            time.sleep(INTERVAL)
        log.write("done\n")
    os.close(out)
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:4]))
