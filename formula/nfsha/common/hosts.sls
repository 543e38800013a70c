{#- Every cluster node's id resolves to its address, and to that one only:
    an address changed in pillar replaces the old entry. -#}
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import nfsha with context %}

{%- for node_id, node in nfsha.nodes | dictsort %}

nfsha-common-hosts-{{ node_id }}-present:
  host.present:
    - name: {{ node_id }}
    - ip: {{ node.address }}
    - clean: True
{%- endfor %}
