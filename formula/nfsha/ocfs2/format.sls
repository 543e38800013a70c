{#- One server, and one only, partitions the shared disk and creates both
    file systems, and records their UUIDs (grain ocfs2_uuids); the states
    refuse a disk that holds anything else, or OCFS2 with the right names
    but another UUID than recorded. -#}
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import nfsha with context %}

include:
  - {{ tplroot }}.iscsi.initiator
  - {{ tplroot }}.ocfs2.cluster

{%- if nfsha.me.id == nfsha.ocfs2.format_node %}

nfsha-ocfs2-format-partitioned:
  ocfs2.partitioned:
    - name: {{ nfsha.iscsi.device }}
    - label: {{ nfsha.ocfs2.partition_label }}
    - partitions:
{%-   for fs in nfsha.ocfs2.partitions %}
      - size: {{ fs.size | json }}
{%-   endfor %}
    - call_timeout: {{ nfsha.call_timeouts.ocfs2 }}
    - require:
      - iscsiadm: nfsha-iscsi-initiator-logged-in

{%-   for fs in nfsha.ocfs2.partitions %}

nfsha-ocfs2-format-{{ fs.name }}-formatted:
  ocfs2.formatted:
    - name: {{ fs.partition }}
    - label: {{ fs.label }}
    - slots: {{ [nfsha.roles.servers | length, 2] | max }}
    - cluster_name: {{ nfsha.ocfs2.cluster_name }}
    - call_timeout: {{ nfsha.call_timeouts.ocfs2 }}
    - mkfs_timeout: {{ nfsha.call_timeouts.mkfs }}
    - require:
      - ocfs2: nfsha-ocfs2-format-partitioned
      - ocfs2: nfsha-ocfs2-cluster-online
{%-   endfor %}
{%- endif %}
