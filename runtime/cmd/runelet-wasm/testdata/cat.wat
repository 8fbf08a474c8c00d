;; cat: a WASI command for runelet-wasm's tests that copies its stdin to its
;; stdout until end of file: with nothing written to stdin, it is blocked in
;; a host call (fd_read) rather than running wasm code.
;;
;; Regenerate cat.wasm with: wat2wasm cat.wat -o cat.wasm (wabt).
(module
  (import "wasi_snapshot_preview1" "fd_read" (func $fd_read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  ;; 0 iovec, 8 nread/nwritten, 1024..65535 buffer.
  (memory (export "memory") 1)
  (func (export "_start")
    (local $n i32)
    (block $eof
      (loop $more
        (i32.store (i32.const 0) (i32.const 1024))
        (i32.store (i32.const 4) (i32.const 64512))
        (br_if $eof (call $fd_read (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 8)))
        (local.set $n (i32.load (i32.const 8)))
        (br_if $eof (i32.eqz (local.get $n)))
        (i32.store (i32.const 4) (local.get $n))
        (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
        (br $more)))))
