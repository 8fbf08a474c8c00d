;; bigmem: a WASI command that declares 16 MiB (256 pages) of memory to
;; start with, and returns at once.
(module
  (memory (export "memory") 256)
  (func (export "_start")))
