{#- The iSCSI target exports the shared disk to the NFS servers only, with
    CHAP both ways. tgt.target_present applies changes live and keeps the
    target's config file (mode 0600: it holds the secrets). -#}
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import nfsha with context %}

include:
  - {{ tplroot }}.common

nfsha-iscsi-target-pkg-installed:
  pkg.installed:
    - name: {{ nfsha.pkgs.target }}
    - refresh: {{ nfsha.pkg_refresh | json }}

nfsha-iscsi-target-service-running:
  service.running:
    - name: {{ nfsha.services.target }}
    - enable: True
    - require:
      - pkg: nfsha-iscsi-target-pkg-installed

nfsha-iscsi-target-present:
  tgt.target_present:
    - name: {{ nfsha.iscsi.iqn }}
    - backing_stores:
      - {{ nfsha.iscsi.backing_store }}
    - initiator_addresses:
{%- for server in nfsha.roles.servers %}
      - {{ nfsha.nodes[server].address }}
{%- endfor %}
    # The passwords are slots (map.jinja), resolved when the state runs.
    - incoming_users:
      - {{ nfsha.iscsi.chap | json }}
    - outgoing_user: {{ nfsha.iscsi.mutual_chap | json }}
    - config: {{ nfsha.paths.tgt_conf_dir }}/nfsha.conf
    - call_timeout: {{ nfsha.call_timeouts.tgtadm }}
    - require:
      - service: nfsha-iscsi-target-service-running
