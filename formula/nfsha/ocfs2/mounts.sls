{#- Both servers mount both OCFS2 file systems (in fstab with _netdev, so
    they come back at boot after the iSCSI login, and after o2cb: a mount
    before the cluster is registered fails). Each server knows them by
    their UUIDs (grain ocfs2_uuids: the format node records what it made,
    the other server what it first finds) and refuses a partition with
    another one. fstab names them by UUID= once recorded, so a boot never
    mounts another file system either; until then (test=True on a fresh
    cluster) by udev's by-path name of the partition. -#}
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import nfsha with context %}
{%- set data = nfsha.ocfs2.filesystems.data %}
{#- At boot a mount waits for o2cb, and for this server's SCSI reservation
    key (ocfs2/fence.sls). #}
{%- set requires = [] %}
{%- for unit in [nfsha.services.o2cb, nfsha.services.scsi_register] %}
{%-   do requires.append('x-systemd.requires=' ~ unit ~ '.service') %}
{%- endfor %}

include:
  - {{ tplroot }}.ocfs2.format
  - {{ tplroot }}.ocfs2.fence

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
{%-   if nfsha.me.id == nfsha.ocfs2.format_node %}
{%-     set identified = 'nfsha-ocfs2-format-' ~ fs.name ~ '-formatted' %}
{%-   else %}
{%-     set identified = 'nfsha-ocfs2-mounts-' ~ fs.name ~ '-identified' %}

{{ identified }}:
  ocfs2.identified:
    - name: {{ fs.partition }}
    - label: {{ fs.label }}
    - cluster_name: {{ nfsha.ocfs2.cluster_name }}
    - call_timeout: {{ nfsha.call_timeouts.ocfs2 }}
    - require:
      - ocfs2: nfsha-ocfs2-mounts-partitions-visible
{%-   endif %}

nfsha-ocfs2-mounts-{{ fs.name }}-mounted:
  mount.mounted:
    - name: {{ fs.mount_point }}
    # Resolved when the state runs, after the UUID is recorded.
    - device: __slot__:salt:ocfs2.mount_device({{ fs.partition | json }}, {{ fs.label | json }})
    - fstype: ocfs2
    - opts: {{ (fs.options + requires) | json }}
    # Only in fstab, never among the mounted file system's options.
    - extra_mount_invisible_keys: [x-systemd.requires]
    - mkmnt: True
    - persist: True
    # The fstab line of the mount point is replaced, whatever device it
    # named before (by-path, before the UUID was recorded).
    - match_on: name
    - require:
      - ocfs2: nfsha-ocfs2-mounts-partitions-visible
      - ocfs2: nfsha-ocfs2-cluster-online
      - ocfs2: {{ identified }}
      - ocfs2: nfsha-ocfs2-fence-registered
{%- endfor %}

nfsha-ocfs2-mounts-data-directory:
  file.directory:
    - name: {{ data.mount_point }}
    - user: {{ data.user }}
    - group: {{ data.group }}
    - mode: '{{ data.mode }}'
    - require:
      - mount: nfsha-ocfs2-mounts-data-mounted
