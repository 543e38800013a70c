{#- The o2cb cluster of the NFS servers: cluster.conf from pillar, the
    cluster online now and at boot, with the OCFS2 mounts; a node that OCFS2
    fences (a kernel panic, or an oops made one) reboots. -#}
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import nfsha with context %}

include:
  - {{ tplroot }}.common

nfsha-ocfs2-cluster-pkg-installed:
  pkg.installed:
    - pkgs: {{ nfsha.pkgs.ocfs2 | json }}
    - refresh: {{ nfsha.pkg_refresh | json }}

nfsha-ocfs2-cluster-online:
  ocfs2.cluster:
    - name: {{ nfsha.ocfs2.cluster_name }}
    - nodes: {{ nfsha.ocfs2.nodes | json }}
    - config: {{ nfsha.paths.ocfs2_cluster_conf }}
    - defaults: {{ nfsha.paths.o2cb_defaults }}
    - timeouts: {{ nfsha.ocfs2.timeouts | json }}
    - call_timeout: {{ nfsha.call_timeouts.ocfs2 }}
    - require:
      - pkg: nfsha-ocfs2-cluster-pkg-installed

nfsha-ocfs2-cluster-o2cb-enabled:
  service.enabled:
    - name: {{ nfsha.services.o2cb }}
    - require:
      - ocfs2: nfsha-ocfs2-cluster-online

{%- for key, value in {'kernel.panic': nfsha.ocfs2.reboot_after_panic, 'kernel.panic_on_oops': 1} | dictsort %}

nfsha-ocfs2-cluster-sysctl-{{ key }}-present:
  sysctl.present:
    - name: {{ key }}
    - value: {{ value }}
    - config: {{ nfsha.paths.ocfs2_sysctl_conf }}
{%- endfor %}
