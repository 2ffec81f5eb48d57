#include <stdio.h>
#include "inc.h"

/* The tests edit this format: a change no other module can see. */
void __attribute__((noinline)) report(const char *what, int value) {
    printf("%s=%d\n", what, value);
}
