{#- The orchestration's second step: every problem of the minion's nfsha
    pillar, reported before anything is changed. -#}
nfsha-validate-pillar:
  nfsha.pillar_valid: []
