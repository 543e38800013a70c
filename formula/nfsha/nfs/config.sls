{#- NFSv4 only, with the lease, grace and server scope of pillar. -#}
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import nfsha with context %}

include:
  - {{ tplroot }}.nfs.install

nfsha-nfs-config-nfs-conf-managed:
  file.managed:
    - name: {{ nfsha.paths.nfs_conf }}
    - source: salt://{{ tplroot }}/files/nfs.conf.jinja
    - template: jinja
    - makedirs: True
    - mode: '0644'
    - context:
        nfsd: {{ nfsha.nfsd | json }}
    - require:
      - pkg: nfsha-nfs-install-pkg-installed

{#- NFSv4 needs idmapd and no statd (statd serves NFSv3 locking). The
    whole file: Debian's has only these four variables. #}
nfsha-nfs-config-nfs-common-managed:
  file.managed:
    - name: {{ nfsha.paths.nfs_common_defaults }}
    - mode: '0644'
    - contents: |
        # Managed by Salt (nfsha)
        NEED_STATD=no
        STATDOPTS=
        NEED_IDMAPD=yes
        NEED_GSSD=
    - require:
      - pkg: nfsha-nfs-install-pkg-installed
