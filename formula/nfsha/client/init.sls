{#- The client mounts the exports over NFSv4 through the VIP. -#}
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import nfsha with context %}

include:
  - {{ tplroot }}.common

nfsha-client-pkg-installed:
  pkg.installed:
    - name: {{ nfsha.pkgs.nfs_client }}
    - refresh: {{ nfsha.pkg_refresh | json }}

{%- for mount in nfsha.client.mounts %}
{%-   set device = nfsha.vip.address ~ ':' ~ mount.export %}

nfsha-client-{{ mount.mount_point }}-in-fstab:
  mount.fstab_present:
    - name: {{ device }}
    - fs_file: {{ mount.mount_point }}
    - fs_vfstype: nfs4
    - fs_mntops: {{ mount.options | json }}
    # nfsha-client-...-mounted mounts it, within its bound.
    - mount: False
    - require:
      - pkg: nfsha-client-pkg-installed

{#- Not mount.mounted: it waits for mount (and umount) without a limit, and
    a hard NFSv4 mount of a server that does not answer never returns. #}
nfsha-client-{{ mount.mount_point }}-mounted:
  nfsha.mounted:
    - name: {{ mount.mount_point }}
    - device: {{ device }}
    - fstype: nfs4
    - opts: {{ mount.options | json }}
    - mkmnt: True
    - call_timeout: {{ nfsha.call_timeouts.mount }}
    - require:
      - mount: nfsha-client-{{ mount.mount_point }}-in-fstab
{%- endfor %}
