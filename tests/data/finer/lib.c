#include "finer.h"

static const int table[4] = {3, 5, 7, 11};

int __attribute__((noinline)) slow(int v) { return v * v + 1; }

int __attribute__((weak, noinline)) hook(int v) { return v + 100; }

int imported(int v) { return table[v & 3] * v + slow(v) + hook(v); }

int __attribute__((noinline)) unrelated(int v) { return v * 13; }
