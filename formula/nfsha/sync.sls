{#- The orchestration's first step: the formula's custom modules on the
    minion. No map.jinja here: it needs these modules. Only the two kinds
    the formula ships to minions (_modules, _states): sync_all asks the
    master for some twenty kinds, which took a 4-minion lab 88 s where
    nothing had changed (docs/lab.md). -#}
nfsha-sync-modules:
  saltutil.sync_modules:
    - refresh: False

nfsha-sync-states:
  saltutil.sync_states:
    - refresh: True
    - require:
      - saltutil: nfsha-sync-modules
