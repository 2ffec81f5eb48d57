#include <stdio.h>
#include <stdlib.h>

static int calls;

/* Prints the constructor that runs; returns how many ran before it. */
int ctor_trace(const char *who, int priority) {
    printf("ctor %s %d (after %d)\n", who, priority, calls);
    return calls++;
}

__attribute__((constructor(101))) static void a_init_101(void) {
    ctor_trace(getenv("PATH") ? "a" : "a-no-path", 101);
}

__attribute__((constructor(400))) static void a_init_400(void) {
    ctor_trace("a", 400);
}

__attribute__((destructor)) static void a_fini(void) {
    printf("dtor a, %d constructors ran\n", calls);
}

/* Kept by llvm.used in two modules (an appending list, like the constructors). */
__attribute__((used)) static const char a_tag[] = "ctor-a-tag";
