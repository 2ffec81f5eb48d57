#include <stdio.h>
int small_api(int v);
long big_api(int seed);
int main(int argc, char **argv) {
    (void)argv;
    printf("small=%d big=%ld\n", small_api(argc), big_api(argc));
    return 0;
}
