{#- Cluster nodes keep their clocks in step (chrony). -#}
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import nfsha with context %}

nfsha-common-time-pkg-installed:
  pkg.installed:
    - name: {{ nfsha.pkgs.chrony }}
    - refresh: {{ nfsha.pkg_refresh | json }}

nfsha-common-time-sources-managed:
{%- if nfsha.ntp_servers %}
  file.managed:
    - name: {{ nfsha.paths.chrony_sources }}
    - mode: '0644'
    - contents: |
{%-   for server in nfsha.ntp_servers %}
        server {{ server }} iburst
{%-   endfor %}
{%- else %}
  file.absent:
    - name: {{ nfsha.paths.chrony_sources }}
{%- endif %}
    - require:
      - pkg: nfsha-common-time-pkg-installed

nfsha-common-time-service-running:
  service.running:
    - name: {{ nfsha.services.chrony }}
    - enable: True
    - watch:
      - file: nfsha-common-time-sources-managed
