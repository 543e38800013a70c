{#- The orchestration's first step: the custom modules synced (nfsha.sync),
    then every problem of the minion's nfsha pillar reported before
    anything is changed. -#}
include:
  - .sync

nfsha-validate-pillar:
  nfsha.pillar_valid:
    - require:
      - sls: {{ tpldir }}.sync
