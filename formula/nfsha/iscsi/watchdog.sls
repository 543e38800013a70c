{#- An NFS server restarts iscsid when iscsid is stuck re-opening the shared
    disk's session (open-iscsi #387), before OCFS2 fences the server for a
    disk that never comes back (iscsi:watchdog in docs/pillar.md). -#}
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import nfsha with context %}
{%- set watchdog = nfsha.iscsi.watchdog %}
{%- set unit = nfsha.services.iscsi_watchdog %}

include:
  - {{ tplroot }}.iscsi.initiator

{%- if watchdog.enabled %}

nfsha-iscsi-watchdog-script-managed:
  file.managed:
    - name: {{ nfsha.paths.iscsi_watchdog_script }}
    - source: salt://{{ tplroot }}/files/iscsi-watchdog.sh.jinja
    - template: jinja
    - mode: '0755'
    - context:
        sessions_dir: /sys/class/iscsi_session
        iscsid: {{ nfsha.services.iscsid }}
        stuck_after: {{ watchdog.stuck_after }}
        max_wait: {{ watchdog.max_wait }}

nfsha-iscsi-watchdog-unit-managed:
  file.managed:
    - name: {{ nfsha.paths.systemd_units }}/{{ unit }}.service
    - mode: '0644'
    - contents: |
        # Managed by Salt (nfsha)
        [Unit]
        Description=nfsha: restart iscsid when it is stuck re-opening a session (open-iscsi #387)
        After={{ nfsha.services.iscsid }}.service

        [Service]
        ExecStart={{ nfsha.paths.iscsi_watchdog_script }}
        Restart=always

        [Install]
        WantedBy=multi-user.target

nfsha-iscsi-watchdog-running:
  service.running:
    - name: {{ unit }}
    - enable: True
    - require:
      - service: nfsha-iscsi-initiator-iscsid-running
    - watch:
      - file: nfsha-iscsi-watchdog-script-managed
      - file: nfsha-iscsi-watchdog-unit-managed
{%- else %}

nfsha-iscsi-watchdog-dead:
  service.dead:
    - name: {{ unit }}
    - enable: False

nfsha-iscsi-watchdog-absent:
  file.absent:
    - names:
      - {{ nfsha.paths.systemd_units }}/{{ unit }}.service
      - {{ nfsha.paths.iscsi_watchdog_script }}
    - require:
      - service: nfsha-iscsi-watchdog-dead
{%- endif %}
