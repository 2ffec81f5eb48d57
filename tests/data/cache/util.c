#include "inc.h"

/* Small: imported into main.o and stats.o. The tests edit its body. */
int scale(int v) { return v * 3 + 1; }
