#include <stdio.h>

unsigned rust_report(unsigned n);

int main(void) {
    unsigned total = rust_report(4);
    printf("c: total=%u\n", total);
    return 0;
}
