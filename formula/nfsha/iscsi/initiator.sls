{#- An NFS server logs in to the target with CHAP both ways, at every boot,
    and waits for the shared disk's block device. -#}
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import nfsha with context %}

include:
  - {{ tplroot }}.common

nfsha-iscsi-initiator-pkg-installed:
  pkg.installed:
    - name: {{ nfsha.pkgs.initiator }}
    - refresh: {{ nfsha.pkg_refresh | json }}

nfsha-iscsi-initiator-name-managed:
  file.managed:
    - name: {{ nfsha.paths.initiatorname }}
    - mode: '0600'
    - contents: InitiatorName={{ nfsha.me.initiator_name }}
    - require:
      - pkg: nfsha-iscsi-initiator-pkg-installed

nfsha-iscsi-initiator-iscsid-running:
  service.running:
    - name: {{ nfsha.services.iscsid }}
    - enable: True
    - watch:
      - file: nfsha-iscsi-initiator-name-managed

nfsha-iscsi-initiator-logged-in:
  iscsiadm.node_logged_in:
    - name: {{ nfsha.iscsi.iqn }}
    - portal: {{ nfsha.iscsi.portal }}
    - chap: {{ nfsha.iscsi.chap | json }}
    - mutual_chap: {{ nfsha.iscsi.mutual_chap | json }}
    - startup: automatic
    - lun: {{ nfsha.iscsi.lun }}
    - call_timeout: {{ nfsha.call_timeouts.iscsiadm }}
    - login_timeout: {{ nfsha.call_timeouts.iscsi_login }}
    - require:
      - service: nfsha-iscsi-initiator-iscsid-running
