/* Nothing here is reachable from main: every definition is dead. */
int never_called(int v) { return v * 42; }
int also_never_called(void) { return never_called(3); }
