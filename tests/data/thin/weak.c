/* Overridden by the strong definition in strong.c, which comes later. */
__attribute__((weak)) int tunable(void) { return 1; }
