;; reactor: a WASI reactor (it exports _initialize, not _start): a library,
;; not a command that can be run.
(module
  (memory (export "memory") 1)
  (func (export "_initialize")))
