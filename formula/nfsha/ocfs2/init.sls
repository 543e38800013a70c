include:
  - .cluster
  - .format
  - .fence
  - .mounts
