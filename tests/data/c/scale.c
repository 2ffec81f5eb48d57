int scale(int value) { return value * 3 + 1; }

const char *describe(int value) { return (value & 1) ? "odd" : "even"; }

/* Preserved with --export: must stay a global symbol. */
int lto_api_version(void) { return 22; }
