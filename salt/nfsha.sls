{#- salt-run state.orchestrate nfsha [test=True]

    Converges the whole cluster, step by step, each step requiring the one
    before: the first failure stops the run (exit code 1). Every step is a
    salt.state, so a run on a converged cluster reports no changes. The
    cluster definition is the master's own nfsha pillar, read and validated
    here before any step runs; step 2 validates every minion's pillar too. -#}
{%- set tpldir = 'nfsha' %}
{%- from "nfsha/map.jinja" import nfsha with context %}
{%- set all_nodes = nfsha.nodes | list | sort %}
{%- set servers = nfsha.roles.servers %}

{%- macro step(id, targets, sls, after) %}
{{ id }}:
  salt.state:
    - tgt: {{ targets | json }}
    - tgt_type: list
    - sls: {{ sls }}
{%-   if after %}
    - require:
      - salt: {{ after }}
{%-   endif %}
{%- endmacro %}

{{ step('nfsha-sync-modules', all_nodes, 'nfsha.sync', none) }}
{{ step('nfsha-validate-pillar', all_nodes, 'nfsha.validate', 'nfsha-sync-modules') }}
{{ step('nfsha-common', all_nodes, 'nfsha.common', 'nfsha-validate-pillar') }}
{{ step('nfsha-iscsi-target', [nfsha.roles.target], 'nfsha.iscsi.target', 'nfsha-common') }}
{{ step('nfsha-iscsi-initiators', servers, 'nfsha.iscsi.initiator', 'nfsha-iscsi-target') }}
{{ step('nfsha-ocfs2-cluster', servers, 'nfsha.ocfs2.cluster', 'nfsha-iscsi-initiators') }}
{{ step('nfsha-ocfs2-format', [nfsha.ocfs2.format_node], 'nfsha.ocfs2.format', 'nfsha-ocfs2-cluster') }}
{{ step('nfsha-ocfs2-mounts', servers, 'nfsha.ocfs2.mounts', 'nfsha-ocfs2-format') }}
{#- One server at a time: both share /var/lib/nfs. #}
{%- set previous = namespace(id='nfsha-ocfs2-mounts') %}
{%- for server in servers %}
{{ step('nfsha-nfs-server-' ~ server, [server], 'nfsha.nfs', previous.id) }}
{%-   set previous.id = 'nfsha-nfs-server-' ~ server %}
{%- endfor %}
{%- if nfsha.roles.clients %}
{#-   A VIP moving to a new address: clients let go of the old one first. #}
{{ step('nfsha-client-release', nfsha.roles.clients, 'nfsha.client.release', previous.id) }}
{%-   set previous.id = 'nfsha-client-release' %}
{%- endif %}
{{ step('nfsha-keepalived', servers, 'nfsha.keepalived', previous.id) }}

nfsha-vip-held:
  nfsha.vip_held:
    - name: {{ nfsha.vip.address }}
    - nodes: {{ servers | json }}
    - require:
      - salt: nfsha-keepalived
{%- if nfsha.roles.clients %}

nfsha-client:
  salt.state:
    - tgt: {{ nfsha.roles.clients | json }}
    - tgt_type: list
    - sls: nfsha.client
    - require:
      - nfsha: nfsha-vip-held
{%- endif %}
