/* helper_mix is not static, but only this module uses it: LTO internalizes it. */
int helper_mix(int acc, int value) { return acc * 31 + value; }

int checksum(const int *values, int count) {
    int acc = 7;
    for (int i = 0; i < count; i++)
        acc = helper_mix(acc, values[i]) % 1000003;
    return acc;
}
