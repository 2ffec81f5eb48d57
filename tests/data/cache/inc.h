/* The incremental-cache test program. Who imports what (at -O2):
 *   main.o  imports scale from util.o
 *   stats.o imports scale from util.o
 *   report.o and leaf.o import nothing, and nothing is imported from them
 *   (their functions are noinline, which ThinLTO never imports). */
int scale(int v);
int checksum(const int *values, int count);
void report(const char *what, int value);
int leaf_value(int seed);
