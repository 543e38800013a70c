include:
  - .hosts
  - .time
