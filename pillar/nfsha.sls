# The pillar of the four-VM lab (Vagrantfile), and the documented example
# of an nfsha cluster (pillar.example links here). docs/pillar.md lists
# every key with its type and default; keys left out take the defaults of
# formula/nfsha/defaults.yaml.
#
# The secrets below are lab secrets, published with the project: a real
# cluster keeps its own in an encrypted pillar (e.g. GPG renderer).
nfsha:
  # The lab's VMs have no route out: their packages come from the apt cache
  # of the box (lab/box). Leave this out where nodes reach a mirror.
  pkg_refresh: false

  # Every node and the VIP must be in this network.
  network: 192.168.56.0/24

  # Minion id -> node. role: target (iSCSI target), server (NFS server),
  # client. Servers also have a VRRP priority (the highest holds the VIP)
  # and an OCFS2 node number; a server's id is its OCFS2 node name.
  nodes:
    iscsi:
      address: 192.168.56.20
      role: target
    nfs1:
      address: 192.168.56.11
      role: server
      priority: 101
      ocfs2_number: 1
    nfs2:
      address: 192.168.56.12
      role: server
      priority: 100
      ocfs2_number: 2
    client:
      address: 192.168.56.30
      role: client

  # The service address clients mount, held by one server at a time.
  vip:
    address: 192.168.56.10
    prefix: 24
    interface: eth1

  iscsi:
    iqn: iqn.2018-08.es.raulpedroche:lun1
    # The whole disk the target exports, on the target node: the lab's
    # second disk, by the serial the Vagrantfile gives it (the proof of
    # concept's /dev/sdb).
    backing_store: /dev/disk/by-id/virtio-nfsha-shared
    # The servers log in with chap (the target's incoming account) and the
    # target proves itself with mutual_chap (its outgoing account).
    # Secrets: 12 to 16 characters, different from each other.
    chap:
      username: nfs-iscsi-user
      password: lab-chap-secret1
    mutual_chap:
      username: debian-iscsi-target
      password: lab-mutual-secr2

  ocfs2:
    cluster_name: ocfs
    filesystems:
      data:
        user: vagrant
        group: vagrant
        mode: '0775'

  keepalived:
    virtual_router_id: 101
    # PASS authentication: at most 8 characters, sent in clear on the wire.
    auth_pass: s3cr3t0
