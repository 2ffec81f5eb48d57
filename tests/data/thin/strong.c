int tunable(void) { return 2; }
