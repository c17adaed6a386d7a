;; ping: a handler module written by hand. INIT (`_initialize`) sets a global;
;; every invocation adds one and answers {"pong":N} for N = 1..9, then 9+.
;; A warm start keeps the global, a cold start resets it.
(module
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (global $count (mut i32) (i32.const -1))
  (data (i32.const 64) "{\"pong\":0}")
  (func (export "_initialize")
    (global.set $count (i32.const 0)))
  (func (export "handler")
    (global.set $count (i32.add (global.get $count) (i32.const 1)))
    ;; the digit at offset 72
    (i32.store8 (i32.const 72)
      (i32.add (i32.const 48)
        (select (global.get $count) (i32.const 9)
          (i32.lt_u (global.get $count) (i32.const 10)))))
    (i32.store (i32.const 0) (i32.const 64))
    (i32.store (i32.const 4) (i32.const 10))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 16)))))
