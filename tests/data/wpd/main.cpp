#include "base.h"
#include <cstdio>
__attribute__((noinline)) int call(const Animal *a, int x) { return a->sound(x); }
int main(int argc, char **) { Animal *a = make_dog(); std::printf("%d\n", call(a, argc)); delete a; return 0; }
