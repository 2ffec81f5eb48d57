/* Bitcode: a 128-bit division, which code generation turns into a call to
 * __divti3, and `hook`, which only the native __divti3 of libdivti.a calls. */
#include <stdio.h>
#include <stdlib.h>
int hook_calls;
void hook(void) { hook_calls++; }
/* Referenced by nothing: the restriction pass internalizes and drops it. */
int unused_helper(int x) { return x * 3; }
int main(int argc, char **argv) {
  __int128 a = (__int128)atol(argc > 1 ? argv[1] : "1000000000000") << 40;
  __int128 b = atol(argc > 2 ? argv[2] : "7");
  printf("%ld %d\n", (long)(a / b), hook_calls);
  return 0;
}
