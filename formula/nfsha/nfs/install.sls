{#- nfs-kernel-server goes in once the shared /var/lib/nfs is mounted.
    The orchestration runs this on one server at a time: two installs
    would create the same files in the shared directory at once. -#}
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import nfsha with context %}

include:
  - {{ tplroot }}.ocfs2.mounts
  - {{ tplroot }}.nfs.dropins

{#- Debian bug #867067: nfsdcltrack fails when its directory is missing. #}
nfsha-nfs-install-nfsdcltrack-directory:
  file.directory:
    - name: {{ nfsha.ocfs2.filesystems.state.mount_point }}/nfsdcltrack
    - require:
      - mount: nfsha-ocfs2-mounts-state-mounted

nfsha-nfs-install-pkg-installed:
  pkg.installed:
    - name: {{ nfsha.pkgs.nfs_server }}
    - refresh: {{ nfsha.pkg_refresh | json }}
    - require:
      - file: nfsha-nfs-install-nfsdcltrack-directory
{%- for unit in nfsha.nfs_state_units %}
      - file: nfsha-nfs-dropins-{{ unit }}-managed
{%- endfor %}
