;; envfile: a WASI command for runelet-wasm's tests. It prints each entry of
;; its environment on its own line, then:
;;   envfile PATH        prints the file at PATH,
;;   envfile PATH TEXT   creates (or truncates) the file at PATH and writes TEXT,
;; PATH being in the preopened directory (fd 3, the module's "/"). It exits
;; with 1 when the file cannot be opened, 2 when its arguments or
;; environment are too large for its one page of memory.
;;
;; Regenerate envfile.wasm with: wat2wasm envfile.wat -o envfile.wasm (wabt).
(module
  (import "wasi_snapshot_preview1" "args_sizes_get" (func $args_sizes_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "args_get" (func $args_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "environ_sizes_get" (func $environ_sizes_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "environ_get" (func $environ_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_open"
    (func $path_open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_read" (func $fd_read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))

  ;; Memory layout (one 64 KiB page):
  ;;   0 iovec  8 nread/nwritten  16 argc  20 args size  24 envc  28 env size
  ;;   32 opened fd  64 texts
  ;;   1024..4095 argv pointers        4096..16383 argument strings
  ;;   16384..20479 environ pointers   20480..45055 environment strings
  ;;   45056..65535 read buffer
  (memory (export "memory") 1)
  (data (i32.const 64) "\n")
  (data (i32.const 72) "envfile: cannot open the file\n")
  (data (i32.const 104) "envfile: arguments or environment too large\n")

  (func $write (param $fd i32) (param $ptr i32) (param $len i32)
    (i32.store (i32.const 0) (local.get $ptr))
    (i32.store (i32.const 4) (local.get $len))
    (drop (call $fd_write (local.get $fd) (i32.const 0) (i32.const 1) (i32.const 8))))

  (func $strlen (param $p i32) (result i32)
    (local $n i32)
    (block $done
      (loop $next
        (br_if $done (i32.eqz (i32.load8_u (i32.add (local.get $p) (local.get $n)))))
        (local.set $n (i32.add (local.get $n) (i32.const 1)))
        (br $next)))
    (local.get $n))

  (func $fail (param $code i32) (param $msg i32) (param $len i32)
    (call $write (i32.const 2) (local.get $msg) (local.get $len))
    (call $proc_exit (local.get $code)))

  (func (export "_start")
    (local $i i32) (local $p i32) (local $path i32) (local $n i32)
    (drop (call $args_sizes_get (i32.const 16) (i32.const 20)))
    (drop (call $environ_sizes_get (i32.const 24) (i32.const 28)))
    (if (i32.or
          (i32.or (i32.gt_u (i32.load (i32.const 16)) (i32.const 768))
                  (i32.gt_u (i32.load (i32.const 20)) (i32.const 12288)))
          (i32.or (i32.gt_u (i32.load (i32.const 24)) (i32.const 1024))
                  (i32.gt_u (i32.load (i32.const 28)) (i32.const 24576))))
      (then (call $fail (i32.const 2) (i32.const 104) (i32.const 44))))
    (drop (call $args_get (i32.const 1024) (i32.const 4096)))
    (drop (call $environ_get (i32.const 16384) (i32.const 20480)))

    ;; The environment, one entry a line.
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (i32.load (i32.const 24))))
        (local.set $p (i32.load (i32.add (i32.const 16384) (i32.shl (local.get $i) (i32.const 2)))))
        (call $write (i32.const 1) (local.get $p) (call $strlen (local.get $p)))
        (call $write (i32.const 1) (i32.const 64) (i32.const 1))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))

    (if (i32.lt_u (i32.load (i32.const 16)) (i32.const 2)) (then (return)))
    ;; PATH, without its leading "/": paths are relative to the preopen.
    (local.set $path (i32.load (i32.const 1028)))
    (if (i32.eq (i32.load8_u (local.get $path)) (i32.const 0x2f))
      (then (local.set $path (i32.add (local.get $path) (i32.const 1)))))

    (if (i32.ge_u (i32.load (i32.const 16)) (i32.const 3))
      (then
        ;; Create or truncate (oflags creat|trunc), rights fd_write.
        (if (call $path_open (i32.const 3) (i32.const 0) (local.get $path) (call $strlen (local.get $path))
                             (i32.const 9) (i64.const 64) (i64.const 0) (i32.const 0) (i32.const 32))
          (then (call $fail (i32.const 1) (i32.const 72) (i32.const 30))))
        (local.set $p (i32.load (i32.const 1032)))
        (call $write (i32.load (i32.const 32)) (local.get $p) (call $strlen (local.get $p)))
        (return)))

    ;; Read it: rights fd_read.
    (if (call $path_open (i32.const 3) (i32.const 0) (local.get $path) (call $strlen (local.get $path))
                         (i32.const 0) (i64.const 2) (i64.const 0) (i32.const 0) (i32.const 32))
      (then (call $fail (i32.const 1) (i32.const 72) (i32.const 30))))
    (block $eof
      (loop $more
        (i32.store (i32.const 0) (i32.const 45056))
        (i32.store (i32.const 4) (i32.const 20480))
        (br_if $eof (call $fd_read (i32.load (i32.const 32)) (i32.const 0) (i32.const 1) (i32.const 8)))
        (local.set $n (i32.load (i32.const 8)))
        (br_if $eof (i32.eqz (local.get $n)))
        (call $write (i32.const 1) (i32.const 45056) (local.get $n))
        (br $more)))))
