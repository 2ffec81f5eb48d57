#include <stdio.h>

int ctor_trace(const char *who, int priority);

static int b_state = -1;

__attribute__((constructor(200))) static void b_init_200(void) {
    b_state = ctor_trace("b", 200);
}

__attribute__((constructor)) static void b_init_default(void) {
    ctor_trace("b", 65535);
}

__attribute__((destructor(200))) static void b_fini_200(void) {
    printf("dtor b 200\n");
}

int peer_state(void) { return b_state; }

__attribute__((used)) static const char b_tag[] = "ctor-b-tag";
