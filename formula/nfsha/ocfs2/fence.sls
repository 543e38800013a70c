{#- The SCSI fence: a server that o2cb declared dead (a crash, a frozen VM
    that later wakes up) cannot write to the shared disk any more, by
    SCSI-3 persistent reservations on the target, until it has rebooted
    and registered again before its mounts (docs/design.md, "The SCSI
    fence"). nfsha-scsi-register runs before the OCFS2 mounts, at boot
    (fstab) and in a state run (the mounts require it); nfsha-scsi-fenced
    fences on o2cb's eviction, clears the reservation once every server is
    back, and reboots this server if it was fenced with OCFS2 mounted. -#}
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import nfsha with context %}
{%- set script = nfsha.paths.scsi_fence_script %}
{#- Seconds register waits for the LUN to appear after the login. #}
{%- set device_wait = 60 %}

include:
  - {{ tplroot }}.iscsi.initiator

nfsha-ocfs2-fence-pkg-installed:
  pkg.installed:
    - name: {{ nfsha.pkgs.scsi_fence }}
    - refresh: {{ nfsha.pkg_refresh | json }}

nfsha-ocfs2-fence-script-managed:
  file.managed:
    - name: {{ script }}
    - source: salt://{{ tplroot }}/files/scsi-fence.sh.jinja
    - template: jinja
    - mode: '0755'
    - context:
        device: {{ nfsha.iscsi.device }}
        # Quoted: YAML would read 0x... as a number, rendered in decimal.
        my_key: {{ nfsha.ocfs2.fence_keys[nfsha.me.id] | json }}
        peer_keys:
{%- for node in nfsha.ocfs2.nodes if node.name != nfsha.me.id %}
          {{ node.number }}: {{ nfsha.ocfs2.fence_keys[node.name] | json }}
{%- endfor %}
        records_dir: {{ nfsha.paths.scsi_fence_records }}
        call_timeout: {{ nfsha.call_timeouts.scsi_fence }}
        device_wait: {{ device_wait }}
        # Seconds between two looks at the reservation while one may be in
        # force, and otherwise: a server fenced meanwhile learns it sooner,
        # from its first refused write (the kernel logs it).
        poll_interval: 2
        idle_interval: 30
    - require:
      - pkg: nfsha-ocfs2-fence-pkg-installed

nfsha-ocfs2-fence-register-unit-managed:
  file.managed:
    - name: {{ nfsha.paths.systemd_units }}/{{ nfsha.services.scsi_register }}.service
    - mode: '0644'
    - contents: |
        # Managed by Salt (nfsha)
        [Unit]
        Description=nfsha: register this server's SCSI reservation key, before its OCFS2 mounts
        After={{ nfsha.services.iscsid }}.service open-iscsi.service

        # No RemainAfterExit: every mount's start runs it again (a server
        # that was out of the cluster may have been fenced meanwhile).
        [Service]
        Type=oneshot
        ExecStart={{ script }} register
    - require:
      - file: nfsha-ocfs2-fence-script-managed

nfsha-ocfs2-fence-fenced-unit-managed:
  file.managed:
    - name: {{ nfsha.paths.systemd_units }}/{{ nfsha.services.scsi_fenced }}.service
    - mode: '0644'
    - contents: |
        # Managed by Salt (nfsha)
        [Unit]
        Description=nfsha: fence the servers o2cb declares dead; reboot this one if it was fenced
        After={{ nfsha.services.iscsid }}.service

        [Service]
        ExecStart={{ script }} watch
        Restart=always
        RestartSec=1

        [Install]
        WantedBy=multi-user.target
    - require:
      - file: nfsha-ocfs2-fence-script-managed

{#- systemd reads a changed unit file only when reloaded; the mounts start
    the register unit, no service state of Salt's (which would reload). #}
nfsha-ocfs2-fence-register-unit-loaded:
  module.run:
    - service.systemctl_reload: []
    - onchanges:
      - file: nfsha-ocfs2-fence-register-unit-managed

{#- Before a state run mounts (not when every OCFS2 file system is
    mounted already): the other server may have fenced this one while it
    was out of the cluster. A state of ours, not cmd.run's unless: with
    unless, Salt 3008 loads every state module to look for cmd's own check
    (30 s of a lab VM's CPU, each run). #}
nfsha-ocfs2-fence-registered:
  ocfs2.fence_registered:
    - name: {{ script }}
    - mount_points: {{ nfsha.ocfs2.partitions | map(attribute='mount_point') | list | json }}
    # The script's own bounds: the wait for the LUN, then a few sg_persist.
    - call_timeout: {{ device_wait + 10 * nfsha.call_timeouts.scsi_fence }}
    - require:
      - module: nfsha-ocfs2-fence-register-unit-loaded
      - iscsiadm: nfsha-iscsi-initiator-logged-in

nfsha-ocfs2-fence-fenced-running:
  service.running:
    - name: {{ nfsha.services.scsi_fenced }}
    - enable: True
    # Not after the registration: a server whose registration is refused
    # (fenced, still mounted) is the one this daemon must reboot.
    - require:
      - iscsiadm: nfsha-iscsi-initiator-logged-in
    - watch:
      - file: nfsha-ocfs2-fence-script-managed
      - file: nfsha-ocfs2-fence-fenced-unit-managed
