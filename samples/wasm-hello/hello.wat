;; hello: the sample WASI workload for rune's wasm enclave runtime.
;;
;; It prints a greeting and then each of its arguments on its own line
;; ("arg: VALUE"), and exits with code N when an argument is "exit=N"
;; (N decimal, at most 2147483647; the last one wins; proc_exit gets N as
;; is, and the runtime reports a code above 255 as 255). It needs only
;; wasi_snapshot_preview1: args_sizes_get, args_get, fd_write and proc_exit.
;;
;; Regenerate hello.wasm with: wat2wasm hello.wat -o hello.wasm (wabt).
(module
  (import "wasi_snapshot_preview1" "args_sizes_get"
    (func $args_sizes_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "args_get"
    (func $args_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit"
    (func $proc_exit (param i32)))

  ;; Memory layout (one 64 KiB page):
  ;;   0  iovec {ptr, len}      8  nwritten
  ;;   16 argc                  20 size of the argument strings
  ;;   64 the texts below
  ;;   1024..4095 argv pointers (at most 768 arguments)
  ;;   4096..65535 argument strings (at most 61440 bytes)
  (memory (export "memory") 1)
  (data (i32.const 64) "Hello from WebAssembly in an Inclavare wasm enclave!\n")
  (data (i32.const 128) "arg: ")
  (data (i32.const 136) "\n")
  (data (i32.const 144) "hello: too many or too long arguments\n")

  ;; write writes len bytes at ptr to the file descriptor fd.
  (func $write (param $fd i32) (param $ptr i32) (param $len i32)
    (i32.store (i32.const 0) (local.get $ptr))
    (i32.store (i32.const 4) (local.get $len))
    (drop (call $fd_write (local.get $fd) (i32.const 0) (i32.const 1) (i32.const 8))))

  ;; strlen is the length of the NUL-terminated string at p.
  (func $strlen (param $p i32) (result i32)
    (local $n i32)
    (block $done
      (loop $next
        (br_if $done (i32.eqz (i32.load8_u (i32.add (local.get $p) (local.get $n)))))
        (local.set $n (i32.add (local.get $n) (i32.const 1)))
        (br $next)))
    (local.get $n))

  ;; exit_code is N when the string at p is "exit=N" (N decimal digits),
  ;; else -1.
  (func $exit_code (param $p i32) (result i32)
    (local $n i32) (local $c i32)
    ;; "exit=" is 0x65 0x78 0x69 0x74 0x3d.
    (if (i32.ne (i32.load8_u (local.get $p)) (i32.const 0x65)) (then (return (i32.const -1))))
    (if (i32.ne (i32.load8_u offset=1 (local.get $p)) (i32.const 0x78)) (then (return (i32.const -1))))
    (if (i32.ne (i32.load8_u offset=2 (local.get $p)) (i32.const 0x69)) (then (return (i32.const -1))))
    (if (i32.ne (i32.load8_u offset=3 (local.get $p)) (i32.const 0x74)) (then (return (i32.const -1))))
    (if (i32.ne (i32.load8_u offset=4 (local.get $p)) (i32.const 0x3d)) (then (return (i32.const -1))))
    (local.set $p (i32.add (local.get $p) (i32.const 5)))
    ;; At least one digit.
    (if (i32.eqz (i32.load8_u (local.get $p))) (then (return (i32.const -1))))
    (block $done
      (loop $next
        (local.set $c (i32.load8_u (local.get $p)))
        (br_if $done (i32.eqz (local.get $c)))
        (if (i32.gt_u (i32.sub (local.get $c) (i32.const 0x30)) (i32.const 9))
          (then (return (i32.const -1))))
        (local.set $n (i32.add (i32.mul (local.get $n) (i32.const 10))
                               (i32.sub (local.get $c) (i32.const 0x30))))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (br $next)))
    (local.get $n))

  (func (export "_start")
    (local $i i32) (local $p i32) (local $code i32) (local $n i32)
    (call $write (i32.const 1) (i32.const 64) (i32.const 53))
    (drop (call $args_sizes_get (i32.const 16) (i32.const 20)))
    (if (i32.or (i32.gt_u (i32.load (i32.const 16)) (i32.const 768))
                (i32.gt_u (i32.load (i32.const 20)) (i32.const 61440)))
      (then
        (call $write (i32.const 2) (i32.const 144) (i32.const 38))
        (call $proc_exit (i32.const 2))))
    (drop (call $args_get (i32.const 1024) (i32.const 4096)))
    ;; Argument 0 is the program's name.
    (local.set $i (i32.const 1))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (i32.load (i32.const 16))))
        (local.set $p (i32.load (i32.add (i32.const 1024) (i32.shl (local.get $i) (i32.const 2)))))
        (call $write (i32.const 1) (i32.const 128) (i32.const 5))
        (call $write (i32.const 1) (local.get $p) (call $strlen (local.get $p)))
        (call $write (i32.const 1) (i32.const 136) (i32.const 1))
        (local.set $n (call $exit_code (local.get $p)))
        (if (i32.ge_s (local.get $n) (i32.const 0)) (then (local.set $code (local.get $n))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (call $proc_exit (local.get $code))))
