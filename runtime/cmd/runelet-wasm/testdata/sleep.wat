;; sleep: a WASI command for runelet-wasm's tests that sleeps for 60 seconds
;; in one host call (poll_oneoff on a relative monotonic clock), then exits
;; with 0.
;;
;; Regenerate sleep.wasm with: wat2wasm sleep.wat -o sleep.wasm (wabt).
(module
  (import "wasi_snapshot_preview1" "poll_oneoff" (func $poll_oneoff (param i32 i32 i32 i32) (result i32)))
  ;; 0..47 the subscription: userdata (u64) at 0, tag (u8, 0 = clock) at 8,
  ;; clock id (u32, 1 = monotonic) at 16, timeout (u64 ns) at 24, precision
  ;; (u64) at 32, flags (u16, 0 = relative) at 40.
  ;; 64..95 the event; 128 the number of events.
  (memory (export "memory") 1)
  (func (export "_start")
    (i32.store (i32.const 16) (i32.const 1))
    (i64.store (i32.const 24) (i64.const 60000000000))
    (drop (call $poll_oneoff (i32.const 0) (i32.const 64) (i32.const 1) (i32.const 128)))))
