{#- The NFS units that keep state in /var/lib/nfs require the OCFS2
    mounts, so they never start on a node's local, empty directory. -#}
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import nfsha with context %}

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
{%- endfor %}
