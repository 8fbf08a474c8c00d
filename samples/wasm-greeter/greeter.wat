;; greeter: the sample WASI workload of a confidential container served by
;; rune (runelet-wasm's serve mode runs one instance per attested
;; connection, the connection as its stdin and stdout).
;;
;; It reads one line from stdin (up to a newline or the end of input, at
;; most 1024 bytes, a trailing carriage return dropped) and writes one line
;; to stdout: "Hello, LINE! Greetings from a WebAssembly module in an
;; Inclavare confidential container.", then exits 0. It needs only
;; wasi_snapshot_preview1: fd_read and fd_write.
;;
;; Regenerate greeter.wasm with: wat2wasm greeter.wat -o greeter.wasm (wabt).
(module
  (import "wasi_snapshot_preview1" "fd_read"
    (func $fd_read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit"
    (func $proc_exit (param i32)))

  ;; Memory layout (one 64 KiB page):
  ;;   0  iovec for reading {ptr, len}   8  nread / nwritten
  ;;   16 three iovecs for writing (24 bytes)
  ;;   64 the greeting's prefix, 80 its suffix
  ;;   1024..2047 the line read
  (memory (export "memory") 1)
  (data (i32.const 64) "Hello, ")
  (data (i32.const 80) "! Greetings from a WebAssembly module in an Inclavare confidential container.\n")

  (global $prefix_len i32 (i32.const 7))
  (global $suffix_len i32 (i32.const 78))
  (global $buf i32 (i32.const 1024))
  (global $cap i32 (i32.const 1024))

  (func $main (export "_start")
    (local $total i32) (local $n i32) (local $i i32) (local $end i32)
    (block $done
      (loop $read
        ;; iovec: the rest of the buffer
        (i32.store (i32.const 0) (i32.add (global.get $buf) (local.get $total)))
        (i32.store (i32.const 4) (i32.sub (global.get $cap) (local.get $total)))
        (if (call $fd_read (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 8))
          (then (call $proc_exit (i32.const 1))))
        (local.set $n (i32.load (i32.const 8)))
        (br_if $done (i32.eqz (local.get $n)))
        ;; look for a newline in what was just read
        (local.set $i (local.get $total))
        (local.set $end (i32.add (local.get $total) (local.get $n)))
        (block $scanned
          (loop $scan
            (br_if $scanned (i32.ge_u (local.get $i) (local.get $end)))
            (if (i32.eq (i32.load8_u (i32.add (global.get $buf) (local.get $i))) (i32.const 10))
              (then
                (local.set $total (local.get $i))
                (br $done)))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br $scan)))
        (local.set $total (local.get $end))
        (br_if $done (i32.ge_u (local.get $total) (global.get $cap)))
        (br $read)))
    ;; drop a trailing carriage return
    (if (i32.and
          (i32.gt_u (local.get $total) (i32.const 0))
          (i32.eq (i32.load8_u (i32.add (global.get $buf) (i32.sub (local.get $total) (i32.const 1)))) (i32.const 13)))
      (then (local.set $total (i32.sub (local.get $total) (i32.const 1)))))
    ;; prefix, line, suffix
    (i32.store (i32.const 16) (i32.const 64))
    (i32.store (i32.const 20) (global.get $prefix_len))
    (i32.store (i32.const 24) (global.get $buf))
    (i32.store (i32.const 28) (local.get $total))
    (i32.store (i32.const 32) (i32.const 80))
    (i32.store (i32.const 36) (global.get $suffix_len))
    (if (call $fd_write (i32.const 1) (i32.const 16) (i32.const 3) (i32.const 8))
      (then (call $proc_exit (i32.const 1))))))
