{#- The orchestration's first step (nfsha.validate includes it): the
    formula's custom modules on the minion. No map.jinja here: it needs
    these modules. Only the three kinds the formula ships to minions
    (_utils, the rules its modules and its validation share; _modules;
    _states): sync_all asks the master for some twenty kinds, which took a
    4-minion lab 88 s where nothing had changed (docs/lab.md). What arrived
    is reloaded once, after the three, and only then: for the rest of this
    state run (reload_modules: nfsha.validate runs the new code), and in
    the minion itself, for the calls that follow the run (each reload of
    the state run's modules takes a fresh emulated VM tens of seconds). -#}
nfsha-sync-utils:
  saltutil.sync_utils:
    - refresh: False

nfsha-sync-modules:
  saltutil.sync_modules:
    - refresh: False
    - require:
      - saltutil: nfsha-sync-utils

nfsha-sync-states:
  saltutil.sync_states:
    - refresh: False
    - require:
      - saltutil: nfsha-sync-modules

nfsha-sync-refreshed:
  module.run:
    - saltutil.refresh_modules: []
    - reload_modules: True
    - onchanges:
      - saltutil: nfsha-sync-utils
      - saltutil: nfsha-sync-modules
      - saltutil: nfsha-sync-states
