{#- keepalived starts after nfs-server, with this node's config id, so the
    one keepalived.conf of the cluster picks this node's @<id> lines. -#}
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import nfsha with context %}

nfsha-keepalived-install-dropin-managed:
  file.managed:
    - name: {{ nfsha.paths.systemd_units }}/{{ nfsha.services.keepalived }}.service.d/nfsha.conf
    - makedirs: True
    - mode: '0644'
    - contents: |
        # Managed by Salt (nfsha)
        [Unit]
        Wants={{ nfsha.services.nfs_server }}.service
        After={{ nfsha.services.nfs_server }}.service

nfsha-keepalived-install-defaults-managed:
  file.managed:
    - name: {{ nfsha.paths.keepalived_defaults }}
    - mode: '0644'
    - contents: |
        # Managed by Salt (nfsha)
        DAEMON_ARGS="--config-id {{ nfsha.me.id }}"

nfsha-keepalived-install-pkg-installed:
  pkg.installed:
    - pkgs: {{ nfsha.pkgs.keepalived | json }}
    - refresh: {{ nfsha.pkg_refresh | json }}
    - require:
      - file: nfsha-keepalived-install-dropin-managed
      - file: nfsha-keepalived-install-defaults-managed

nfsha-keepalived-install-notify-managed:
  file.managed:
    - name: {{ nfsha.paths.notify_script }}
    - source: salt://{{ tplroot }}/files/notify.sh.jinja
    - template: jinja
    - mode: '0755'
    - context:
        nfs_server: {{ nfsha.services.nfs_server }}
