{#- keepalived starts with this node's config id, so the one
    keepalived.conf of the cluster picks this node's @<id> lines. With nfsd
    on the VIP holder only it starts after the shared file systems' mounts
    (remote-fs.target) but does not require them: without them its NFS
    check keeps it in FAULT until they appear, where a failed dependency
    would leave it dead. nfs-server stops whenever keepalived does, and the
    VRRP state the notify script keeps goes with keepalived's runtime
    directory. With nfsd on every server it starts after nfs-server, as in
    the proof of concept. -#}
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import nfsha with context %}
{%- set nfs_server = nfsha.services.nfs_server %}

nfsha-keepalived-install-dropin-managed:
  file.managed:
    - name: {{ nfsha.paths.systemd_units }}/{{ nfsha.services.keepalived }}.service.d/nfsha.conf
    - makedirs: True
    - mode: '0644'
    - contents: |
        # Managed by Salt (nfsha)
        [Unit]
{%- if nfsha.nfsd.serve_on == 'holder' %}
        After=remote-fs.target

        [Service]
        RuntimeDirectory={{ nfsha.paths.runtime_dir | replace('/run/', '', 1) }}
        ExecStopPost=-/bin/systemctl stop --no-block {{ nfs_server }}.service
{%- else %}
        Wants={{ nfs_server }}.service
        After={{ nfs_server }}.service
{%- endif %}

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
        nfs_server: {{ nfs_server }}
        serve_on: {{ nfsha.nfsd.serve_on }}
        state_file: {{ nfsha.paths.vrrp_state_file }}
        instance: {{ nfsha.keepalived.instance }}

nfsha-keepalived-install-nfs-check-managed:
  file.managed:
    - name: {{ nfsha.paths.nfs_check_script }}
    - source: salt://{{ tplroot }}/files/check-nfs.sh.jinja
    - template: jinja
    - mode: '0755'
    - context:
        nfs_server: {{ nfs_server }}
        serve_on: {{ nfsha.nfsd.serve_on }}
        state_file: {{ nfsha.paths.vrrp_state_file }}
        gave_up_file: {{ nfsha.paths.nfs_lock_gave_up }}
        lock_file: {{ nfsha.nfsd.lock_file }}
        startup_s: {{ nfsha.keepalived.nfs_check.startup_s }}
        lock_wait: {{ nfsha.keepalived.nfs_check.lock_wait }}
        mount_points: {{ nfsha.ocfs2.partitions | map(attribute='mount_point') | list | json }}
