;; import: a WASI command that imports a function no runtime provides.
(module
  (import "env" "inclavare_missing" (func $missing))
  (memory (export "memory") 1)
  (func (export "_start") (call $missing)))
