;; loop: a WASI command that never returns and never calls the host: a busy
;; loop that only a runtime that stops compiled code can end.
(module
  (memory (export "memory") 1)
  (func (export "_start")
    (loop $forever (br $forever))))
