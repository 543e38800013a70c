include:
  - .dropins
  - .install
  - .config
  - .exports
  - .service
