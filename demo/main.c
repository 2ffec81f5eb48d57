/* The demo program: C calls into C and Rust; Rust calls back into C. */
#include <stdio.h>
#include <string.h>

int wordstat_words(const char *text);
int wordstat_longest(const char *text);
unsigned rust_summarize(const char *text, unsigned len);

int main(void) {
    const char *text = "link time optimization sees the whole program at once";
    printf("words=%d longest=%d\n", wordstat_words(text), wordstat_longest(text));
    unsigned vowels = rust_summarize(text, (unsigned)strlen(text));
    printf("vowels=%u\n", vowels);
    return 0;
}
