/* The finer-cache-key test program. main.o imports imported() from lib.o
 * (small, so ThinLTO imports it), and with it the read-only table it reads
 * and a declaration of slow() and hook(), which it calls. unrelated() is
 * noinline: nobody imports it, so an edit there must not recompile main.o,
 * while an edit of anything imported() brings along must. other.o defines
 * nothing at first; the tests give it a strong hook() that outranks lib.o's
 * weak one. */
int imported(int v);
int unrelated(int v);
int slow(int v);
int hook(int v);
