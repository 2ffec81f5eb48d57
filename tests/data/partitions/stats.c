/* Bitcode: file-local state used by many exported functions, so that fat
 * LTO's code generation partitions refer to it across objects. native.c
 * defines global symbols with the same names. */
static int counter = 7;

__attribute__((noinline)) static void bump(int by) { counter = counter * 3 + by; }

#define STEP(n)                                                                \
  __attribute__((noinline)) int step##n(int x) {                               \
    bump(x + n);                                                               \
    return counter % 1000;                                                     \
  }
STEP(0) STEP(1) STEP(2) STEP(3) STEP(4) STEP(5) STEP(6) STEP(7)
STEP(8) STEP(9) STEP(10) STEP(11) STEP(12) STEP(13) STEP(14) STEP(15)
