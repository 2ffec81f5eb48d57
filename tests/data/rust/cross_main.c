#include <stdio.h>

int rust_add_one(int x);
int rust_calls_c(int x);

int c_square(int x) { return x * x; }

int c_calls_rust(int x) { return rust_add_one(x) * 10; }

int main(int argc, char **argv) {
    (void)argv;
    int x = argc + 6; /* 7 when run without arguments */
    printf("c_calls_rust=%d rust_calls_c=%d\n", c_calls_rust(x), rust_calls_c(x));
    return 0;
}
