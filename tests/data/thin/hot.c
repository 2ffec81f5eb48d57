#include "shared.h"

extern inline int clamp_small(int v);

const int weights[4] = {5, 7, 11, 13};

/* Small and hot: imported into main and inlined there. */
int add_scaled(int acc, int v) { return (acc + v * 3) % 65521; }

/* A local that an importable function uses: importing uses_secret makes the
 * thin link promote secret (renamed with a module hash suffix). */
static int __attribute__((noinline)) secret(int v) { return v ^ 0x5a5a; }
int uses_secret(int v) { return secret(v) + weights[1]; }

/* Too big to import at the default threshold. */
long big_work(int seed) {
    long x = seed;
    for (int round = 0; round < 8; round++) {
        x = x * 6364136223846793005L + 1442695040888963407L;
        x ^= x >> 17; x += round * 31; x ^= x << 5; x -= 12345;
        x ^= x >> 13; x += round * 7; x ^= x << 9; x -= 777;
        x ^= x >> 11; x += round * 3; x ^= x << 3; x -= 99;
        x ^= x >> 7;  x += round * 5; x ^= x << 2; x -= 4242;
        x ^= x >> 5;  x += round * 11; x ^= x << 7; x -= 31337;
        x ^= x >> 3;  x += round * 13; x ^= x << 11; x -= 2718;
        x ^= x >> 2;  x += round * 17; x ^= x << 13; x -= 1414;
        x ^= x >> 19; x += round * 19; x ^= x << 1; x -= 1732;
        x ^= x >> 23; x += round * 23; x ^= x << 4; x -= 2236;
        x ^= x >> 29; x += round * 29; x ^= x << 6; x -= 3141;
    }
    return x & 0xffff;
}
