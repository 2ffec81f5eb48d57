#include "inc.h"

int main(int argc, char **argv) {
    (void)argv;
    int values[8];
    for (int i = 0; i < 8; i++)
        values[i] = scale(i + argc);
    report("scaled", values[7]);
    report("checksum", checksum(values, 8));
    report("leaf", leaf_value(argc));
    return 0;
}
