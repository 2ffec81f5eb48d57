/* A runtime library member (as compiler_builtins' or libgcc's): it defines
 * the libcall and calls back into the program. */
extern void hook(void);
__int128 __divti3(__int128 a, __int128 b) {
  hook();
  unsigned __int128 ua = a < 0 ? -a : a, ub = b < 0 ? -b : b, q = 0, r = 0;
  for (int i = 127; i >= 0; i--) {
    r = (r << 1) | ((ua >> i) & 1);
    if (r >= ub) {
      r -= ub;
      q |= (unsigned __int128)1 << i;
    }
  }
  return ((a < 0) != (b < 0)) ? -(__int128)q : (__int128)q;
}
