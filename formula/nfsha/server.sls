{#- Everything an NFS server runs, for a highstate of one server. -#}
include:
  - .iscsi.initiator
  - .iscsi.watchdog
  - .ocfs2
  - .nfs
  - .keepalived
