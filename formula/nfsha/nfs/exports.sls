{#- /etc/exports from pillar, every export with its fsid pinned, so file
    handles stay valid when the other server takes over. -#}
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import nfsha with context %}

include:
  - {{ tplroot }}.nfs.install

nfsha-nfs-exports-managed:
  file.managed:
    - name: {{ nfsha.paths.exports }}
    - source: salt://{{ tplroot }}/files/exports.jinja
    - template: jinja
    - mode: '0644'
    - context:
        exports: {{ nfsha.exports | json }}
    - require:
      - pkg: nfsha-nfs-install-pkg-installed
