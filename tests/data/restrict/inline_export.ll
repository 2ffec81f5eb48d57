; Two inline (linkonce_odr) functions that only `caller` calls in the
; bitcode; a native object calls `exported_inline` too, so the link
; preserves it. lto<On> inlines both into `caller`: the preserved one
; must still be emitted, the other may go.
target datalayout = "e-m:e-p270:32:32-p271:32:32-p272:64:64-i64:64-i128:128-f80:128-n8:16:32:64-S128"
target triple = "x86_64-unknown-linux-gnu"

define linkonce_odr i32 @exported_inline(i32 %x) {
  %y = mul i32 %x, 3
  ret i32 %y
}

define linkonce_odr i32 @unexported_inline(i32 %x) {
  %y = add i32 %x, 5
  ret i32 %y
}

define i32 @caller(i32 %x) {
  %a = call i32 @exported_inline(i32 %x)
  %b = call i32 @unexported_inline(i32 %a)
  ret i32 %b
}
