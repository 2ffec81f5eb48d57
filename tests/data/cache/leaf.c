#include "inc.h"

int __attribute__((noinline)) leaf_value(int seed) {
    int x = seed;
    for (int i = 0; i < 5; i++)
        x = x * 7 + i;
    return x;
}
