// Inline functions (linkonce_odr in the bitcode) that a native object
// calls, so the link preserves them, each called by an out-of-line
// function too. Split by name, many of them land in another partition than
// their caller: no partition may drop one as unused.
#define PAIR(i)                                                                \
  __attribute__((noinline)) inline int twice##i(int x) { return 2 * x + i; }   \
  int call##i(int x) { return twice##i(x) + 1; }

extern "C" {
PAIR(0) PAIR(1) PAIR(2) PAIR(3) PAIR(4) PAIR(5) PAIR(6) PAIR(7)
PAIR(8) PAIR(9) PAIR(10) PAIR(11) PAIR(12) PAIR(13) PAIR(14) PAIR(15)
}
