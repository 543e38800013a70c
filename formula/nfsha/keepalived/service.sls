{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import nfsha with context %}

include:
  - {{ tplroot }}.keepalived.config

{#- A new config id or unit drop-in needs a restart; keepalived.conf
    changes are reloaded by keepalived.config itself. #}
nfsha-keepalived-service-running:
  service.running:
    - name: {{ nfsha.services.keepalived }}
    - enable: True
    - require:
      - keepalived: nfsha-keepalived-config-managed
    - watch:
      - file: nfsha-keepalived-install-dropin-managed
      - file: nfsha-keepalived-install-defaults-managed

{#- keepalived runs its notify FIFO's reader (nfsd:serve_on: holder) for as
    long as it runs: a reload starts the new script. #}
nfsha-keepalived-service-notify-reloaded:
  service.running:
    - name: {{ nfsha.services.keepalived }}
    - reload: True
    - watch:
      - file: nfsha-keepalived-install-notify-managed
    - require:
      - service: nfsha-keepalived-service-running
