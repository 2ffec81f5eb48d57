#include <stdio.h>

int checksum(const int *values, int count);
int scale(int value);
const char *describe(int value);
int lto_api_version(void);

int main(void) {
    int values[] = {3, 1, 4, 1, 5, 9, 2, 6};
    int sum = checksum(values, 8);
    printf("checksum=%d scaled=%d kind=%s api=%d\n", sum, scale(sum), describe(sum), lto_api_version());
    return 0;
}
