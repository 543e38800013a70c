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

nfsha-client-{{ mount.mount_point }}-mounted:
  mount.mounted:
    - name: {{ mount.mount_point }}
    - device: {{ nfsha.vip.address }}:{{ mount.export }}
    - fstype: nfs4
    - opts: {{ mount.options | json }}
    - mkmnt: True
    - persist: True
    - require:
      - pkg: nfsha-client-pkg-installed
{%- endfor %}
