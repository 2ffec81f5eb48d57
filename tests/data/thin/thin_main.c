#include <stdio.h>
#include "shared.h"

int main(int argc, char **argv) {
    (void)argv;
    int acc = 0;
    for (int i = 0; i < 100 + argc; i++)
        acc = add_scaled(acc, i);
    printf("acc=%d secret=%d big=%ld tunable=%d weight=%d clamp=%d\n", acc, uses_secret(acc),
           big_work(acc), tunable(), weights[argc], clamp_small(acc));
    return 0;
}
