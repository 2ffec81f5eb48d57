#include <stdio.h>
#include "finer.h"

int main(int argc, char **argv) {
    (void)argv;
    int sum = 0;
    for (int i = 0; i < 6; i++)
        sum += imported(i + argc);
    printf("imported=%d unrelated=%d\n", sum, unrelated(argc));
    return 0;
}
