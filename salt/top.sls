{#- Every node of the nfsha pillar gets the states of its role
    (nfsha/node.sls picks them), so `state.highstate` on one minion
    converges that minion. -#}
{%- set nodes = salt['pillar.get']('nfsha:nodes', {}) %}
base:
{%- if nodes %}
  '{{ nodes | join(",") }}':
    - match: list
    - nfsha.node
{%- endif %}
