# Every cluster node gets the cluster definition; '*' also matches the
# master's own id (<master>_master), which the nfsha orchestration reads.
base:
  '*':
    - nfsha
