{#- salt-run state.orchestrate nfsha [test=True]

    Converges the whole cluster, step by step, each step requiring the one
    before: the first failure stops the run (exit code 1). Every step is a
    salt.state, so a run on a converged cluster reports no changes. The
    cluster definition is the master's own nfsha pillar, read and validated
    here before any step runs; the first step syncs the custom modules to
    every minion and validates their pillar too. -#}
{%- set tpldir = 'nfsha' %}
{%- from "nfsha/map.jinja" import nfsha with context %}
{%- set all_nodes = nfsha.nodes | list | sort %}
{%- set servers = nfsha.roles.servers %}

{%- macro step(id, targets, sls, after) %}
{{ id }}:
  salt.state:
    - tgt: {{ targets | json }}
    - tgt_type: list
    - sls: {{ sls | json }}
{%-   if after %}
    - require:
      - salt: {{ after }}
{%-   endif %}
{%- endmacro %}

{#- Each role's SLS includes what it builds on (nfsha.common first), so a
    step re-applies nothing but its own states and their prerequisites. #}
{{ step('nfsha-sync-and-validate', all_nodes, 'nfsha.validate', none) }}
{{ step('nfsha-iscsi-target', [nfsha.roles.target], 'nfsha.iscsi.target', 'nfsha-sync-and-validate') }}
{{ step('nfsha-storage', servers, ['nfsha.iscsi.initiator', 'nfsha.iscsi.watchdog', 'nfsha.ocfs2.cluster'], 'nfsha-iscsi-target') }}
{#- One server at a time, the format node first (nfsha.nfs includes the
    OCFS2 formatting and mounts): both share /var/lib/nfs. #}
{%- set format_node = nfsha.ocfs2.format_node %}
{%- set previous = namespace(id='nfsha-storage') %}
{%- for server in [format_node] + servers | reject('equalto', format_node) | list %}
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
