{#- Both servers mount both OCFS2 file systems (in fstab with _netdev, so
    they come back at boot after the iSCSI login, and after o2cb: a mount
    before the cluster is registered fails). The device is udev's
    by-path name of the partition: stable across boots, and known before
    the file system exists, so test=True can plan a fresh cluster. -#}
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import nfsha with context %}
{%- set data = nfsha.ocfs2.filesystems.data %}
{%- set after_o2cb = 'x-systemd.requires=' ~ nfsha.services.o2cb ~ '.service' %}

include:
  - {{ tplroot }}.ocfs2.format

{#- The server that did not write the partition table re-reads it. #}
nfsha-ocfs2-mounts-partitions-visible:
  ocfs2.partitions_visible:
    - name: {{ nfsha.iscsi.device }}
    - count: {{ nfsha.ocfs2.partitions | length }}
    - call_timeout: {{ nfsha.call_timeouts.ocfs2 }}
    - require:
      - iscsiadm: nfsha-iscsi-initiator-logged-in
{%- if nfsha.me.id == nfsha.ocfs2.format_node %}
      - ocfs2: nfsha-ocfs2-format-partitioned
{%- endif %}

{%- for fs in nfsha.ocfs2.partitions %}

nfsha-ocfs2-mounts-{{ fs.name }}-mounted:
  mount.mounted:
    - name: {{ fs.mount_point }}
    - device: {{ fs.partition }}
    - fstype: ocfs2
    - opts: {{ (fs.options + [after_o2cb]) | json }}
    # Only in fstab, never among the mounted file system's options.
    - extra_mount_invisible_keys: [x-systemd.requires]
    - mkmnt: True
    - persist: True
    - require:
      - ocfs2: nfsha-ocfs2-mounts-partitions-visible
      - ocfs2: nfsha-ocfs2-cluster-online
{%-   if nfsha.me.id == nfsha.ocfs2.format_node %}
      - ocfs2: nfsha-ocfs2-format-{{ fs.name }}-formatted
{%-   endif %}
{%- endfor %}

nfsha-ocfs2-mounts-data-directory:
  file.directory:
    - name: {{ data.mount_point }}
    - user: {{ data.user }}
    - group: {{ data.group }}
    - mode: '{{ data.mode }}'
    - require:
      - mount: nfsha-ocfs2-mounts-data-mounted
