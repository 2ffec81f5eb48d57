/* Native (no LTO): global definitions named as stats.c's statics. */
int counter = 1000;
int bump(void) { return counter += 1; }
int native_value(void) { return bump() + counter; }
