include:
  - .cluster
  - .format
  - .mounts
