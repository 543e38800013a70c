{#- keepalived.conf from pillar (mode 0600: it holds auth_pass). A file
    that fails `keepalived -t` never replaces the running one; a valid
    change reloads the daemon, which keeps the VIP where it is. -#}
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import nfsha with context %}

include:
  - {{ tplroot }}.keepalived.install

nfsha-keepalived-config-managed:
  keepalived.config:
    - name: {{ nfsha.paths.keepalived_conf }}
    - source: salt://{{ tplroot }}/files/keepalived.conf.jinja
    - template: jinja
    - config_id: {{ nfsha.me.id }}
    - context:
        nfsha: {{ nfsha | json }}
        # A slot (map.jinja): Salt resolves slots among the first-level
        # values of a dict argument only, so it sits here, not in nfsha.
        auth_pass: {{ nfsha.keepalived.auth_pass | json }}
    - require:
      - pkg: nfsha-keepalived-install-pkg-installed
      - file: nfsha-keepalived-install-notify-managed
      - file: nfsha-keepalived-install-nfs-check-managed
