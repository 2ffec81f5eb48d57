/* Global, but only big_api (never imported) uses it: internalized. */
int __attribute__((noinline)) helper(int v) { return v * 3 + 1; }
/* Reached from nothing: dropped. */
int unused_global(void) { return 7; }
/* A local that imported code calls: promoted under a module-hash name. */
static int __attribute__((noinline)) local_step(int v) { return v ^ 0x33; }
int small_api(int v) { return local_step(v) + 1; }
/* Too big to import. */
long big_api(int seed) {
    long x = seed;
    for (int round = 0; round < 8; round++) {
        x = x * 6364136223846793005L + helper(round);
        x ^= x >> 17; x += round * 31; x ^= x << 5; x -= 12345;
        x ^= x >> 13; x += round * 7; x ^= x << 9; x -= 777;
        x ^= x >> 11; x += round * 3; x ^= x << 3; x -= 99;
        x ^= x >> 7;  x += round * 5; x ^= x << 2; x -= 4242;
        x ^= x >> 5;  x += round * 11; x ^= x << 7; x -= 31337;
        x ^= x >> 13; x += round * 7; x ^= x << 9; x -= 777;
        x ^= x >> 11; x += round * 3; x ^= x << 3; x -= 99;
        x ^= x >> 7;  x += round * 5; x ^= x << 2; x -= 4242;
        x ^= x >> 5;  x += round * 11; x ^= x << 7; x -= 31337;
        x ^= x >> 13; x += round * 7; x ^= x << 9; x -= 777;
        x ^= x >> 11; x += round * 3; x ^= x << 3; x -= 99;
        x ^= x >> 7;  x += round * 5; x ^= x << 2; x -= 4242;
        x ^= x >> 5;  x += round * 11; x ^= x << 7; x -= 31337;
        x ^= x >> 13; x += round * 7; x ^= x << 9; x -= 777;
        x ^= x >> 11; x += round * 3; x ^= x << 3; x -= 99;
        x ^= x >> 7;  x += round * 5; x ^= x << 2; x -= 4242;
        x ^= x >> 5;  x += round * 11; x ^= x << 7; x -= 31337;
        x ^= x >> 3;  x += round * 13; x ^= x << 11; x -= 2718;
        x ^= x >> 2;  x += round * 17; x ^= x << 13; x -= 1414;
    }
    return x & 0xffff;
}
