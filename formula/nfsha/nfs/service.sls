{#- nfs-server running; a new nfs.conf restarts it, new exports are
    re-exported without a restart. -#}
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import nfsha with context %}

include:
  - {{ tplroot }}.nfs.config
  - {{ tplroot }}.nfs.exports

nfsha-nfs-service-running:
  service.running:
    - name: {{ nfsha.services.nfs_server }}
    - enable: True
    - watch:
      - file: nfsha-nfs-config-nfs-conf-managed
      - file: nfsha-nfs-config-nfs-common-managed
{%- for unit in nfsha.nfs_state_units %}
      - file: nfsha-nfs-dropins-{{ unit }}-managed
{%- endfor %}

{#- nfs-server's reload is `exportfs -r`. #}
nfsha-nfs-service-exports-reloaded:
  service.running:
    - name: {{ nfsha.services.nfs_server }}
    - reload: True
    - watch:
      - file: nfsha-nfs-exports-managed
    - require:
      - service: nfsha-nfs-service-running
