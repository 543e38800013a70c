{#- nfs-server: on the VIP holder only (nfsd:serve_on: holder, where
    keepalived's notify script starts and stops it as the VIP moves), or on
    every server (all). A new nfs.conf restarts it where it runs, new exports
    are re-exported (`exportfs -r`, nfs-server's reload) without a restart. -#}
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import nfsha with context %}
{%- if nfsha.nfsd.serve_on == 'holder' %}
{%-   set service_id, function = 'nfsha-nfs-service-on-master', 'nfsha.service_on_master' %}
{#-   A start waits for the NFS service lock as long as the NFS check lets it. #}
{%-   set service_args = {'instance': nfsha.keepalived.instance,
                          'start_timeout': nfsha.keepalived.nfs_check.lock_wait} %}
{%- else %}
{%-   set service_id, function = 'nfsha-nfs-service-running', 'service.running' %}
{%-   set service_args = {'enable': True} %}
{%- endif %}

include:
  - {{ tplroot }}.nfs.config
  - {{ tplroot }}.nfs.exports

{{ service_id }}:
  {{ function }}:
    - name: {{ nfsha.services.nfs_server }}
{%- for key, value in service_args | dictsort %}
    - {{ key }}: {{ value | json }}
{%- endfor %}
    - watch:
      - file: nfsha-nfs-config-nfs-conf-managed
      - file: nfsha-nfs-config-nfs-common-managed
{%- for unit in nfsha.nfs_state_units %}
      - file: nfsha-nfs-dropins-{{ unit }}-managed
{%- endfor %}

nfsha-nfs-service-exports-reloaded:
  {{ function }}:
    - name: {{ nfsha.services.nfs_server }}
{%- for key, value in service_args | dictsort %}
    - {{ key }}: {{ value | json }}
{%- endfor %}
    - reload: True
    - watch:
      - file: nfsha-nfs-exports-managed
    - require:
      - {{ function.split('.')[0] }}: {{ service_id }}
