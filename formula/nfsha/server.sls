{#- Everything an NFS server runs, for a highstate of one server. -#}
include:
  - .iscsi.initiator
  - .ocfs2
  - .nfs
  - .keepalived
