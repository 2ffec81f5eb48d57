/* Static constructors and destructors in three modules, with priorities, whose
 * effects GlobalOpt cannot fold away (they print and read the environment).
 * Each module's constructors must run, once, in priority order. */
#include <stdio.h>
#include <stdlib.h>

int ctor_trace(const char *who, int priority);
int peer_state(void);

static int main_state;

__attribute__((constructor(300))) static void main_init_300(void) {
    main_state = ctor_trace("main", 300) + (getenv("LTO_CTOR_TEST") != NULL);
}

__attribute__((constructor)) static void main_init_default(void) {
    ctor_trace("main", 65535);
}

__attribute__((destructor(300))) static void main_fini_300(void) {
    printf("dtor main 300\n");
}

int main(void) {
    printf("main: state %d peer %d\n", main_state, peer_state());
    return 0;
}
