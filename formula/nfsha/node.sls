{#- The highstate of a cluster node: the SLS of its role (salt/top.sls
    assigns this to every node of the pillar). -#}
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import nfsha with context %}
{%- set sls_by_role = {'target': 'iscsi.target', 'server': 'server', 'client': 'client'} %}

include:
  - {{ tplroot }}.{{ sls_by_role[nfsha.me.role] }}
