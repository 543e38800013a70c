{#- The orchestration's first step: the formula's custom modules on the
    minion. No map.jinja here: it needs these modules. -#}
nfsha-sync-all:
  saltutil.sync_all:
    - refresh: True
