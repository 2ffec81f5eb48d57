/* The tests add a strong hook() here. */
int other_marker;
