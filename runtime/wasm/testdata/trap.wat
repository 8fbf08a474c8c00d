;; trap: a WASI command whose _start traps at once (unreachable), as an
;; aborting program does.
(module
  (memory (export "memory") 1)
  (func (export "_start") unreachable))
