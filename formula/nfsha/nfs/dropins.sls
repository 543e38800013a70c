{#- The NFS units that keep state in /var/lib/nfs require the OCFS2
    mounts, so they never start on a node's local, empty directory. With
    nfsd on the VIP holder only (nfsd:serve_on: holder) they are also bound
    to the NFS service lock, which one server holds at a time: BindsTo, not
    Requires, so that they stop whenever the lock's holding process dies
    (Requires follows an explicit stop only), and nfsdcld stops with
    nfs-server. NFSv4 only: statd (NFSv3 locking, which writes
    /var/lib/nfs/sm) is masked. -#}
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import nfsha with context %}
{%- set holder_only = nfsha.nfsd.serve_on == 'holder' %}
{%- set lock = nfsha.services.nfs_lock %}

{%- if holder_only %}

nfsha-nfs-dropins-lock-script-managed:
  file.managed:
    - name: {{ nfsha.paths.nfs_lock_script }}
    - source: salt://{{ tplroot }}/files/nfs-lock.sh.jinja
    - template: jinja
    - mode: '0755'
    - context:
        lock_file: {{ nfsha.nfsd.lock_file }}
        pid_file: /run/{{ lock }}.pid
        scsi_fence_script: {{ nfsha.paths.scsi_fence_script }}

nfsha-nfs-dropins-lock-unit-managed:
  file.managed:
    - name: {{ nfsha.paths.systemd_units }}/{{ lock }}.service
    - mode: '0644'
    - contents: |
        # Managed by Salt (nfsha)
        [Unit]
        Description=nfsha: the NFS service lock (one nfsd on the shared /var/lib/nfs)
        RequiresMountsFor={{ nfsha.ocfs2.filesystems.state.mount_point }}
        PartOf={{ nfsha.services.nfs_server }}.service

        [Service]
        Type=forking
        ExecStart={{ nfsha.paths.nfs_lock_script }}
        PIDFile=/run/{{ lock }}.pid
        # As long as the other server serves, or until OCFS2 has fenced it.
        TimeoutStartSec=infinity
    - require:
      - file: nfsha-nfs-dropins-lock-script-managed
{%- else %}

nfsha-nfs-dropins-lock-absent:
  file.absent:
    - names:
      - {{ nfsha.paths.systemd_units }}/{{ lock }}.service
      - {{ nfsha.paths.nfs_lock_script }}
{%- endif %}

{%- for unit in nfsha.nfs_state_units %}

nfsha-nfs-dropins-{{ unit }}-managed:
  file.managed:
    - name: {{ nfsha.paths.systemd_units }}/{{ unit }}.d/nfsha.conf
    - makedirs: True
    - mode: '0644'
    - contents: |
        # Managed by Salt (nfsha)
        [Unit]
        RequiresMountsFor={{ nfsha.ocfs2.partitions | map(attribute='mount_point') | join(' ') }}
{%-   if holder_only %}
        BindsTo={{ lock }}.service
        After={{ lock }}.service
{%-     if unit != nfsha.services.nfs_server ~ '.service' %}
        PartOf={{ nfsha.services.nfs_server }}.service
{%-     endif %}
    - require:
      - file: nfsha-nfs-dropins-lock-unit-managed
{%-   endif %}
{%- endfor %}

nfsha-nfs-dropins-statd-dead:
  service.dead:
    - names: {{ nfsha.nfs_statd_units | json }}

nfsha-nfs-dropins-statd-masked:
  service.masked:
    - names: {{ nfsha.nfs_statd_units | json }}
    - require:
      - service: nfsha-nfs-dropins-statd-dead
