/* Word statistics. is_separator and c_is_vowel are external but tiny: after
 * LTO they are inlined into their callers, including the Rust ones. */
int is_separator(char c) { return c == ' ' || c == '\t' || c == '\n'; }

int c_is_vowel(char c) {
    return c == 'a' || c == 'e' || c == 'i' || c == 'o' || c == 'u';
}

int wordstat_words(const char *text) {
    int words = 0, in_word = 0;
    for (; *text; ++text) {
        if (is_separator(*text)) in_word = 0;
        else if (!in_word) { in_word = 1; ++words; }
    }
    return words;
}

int wordstat_longest(const char *text) {
    int longest = 0, current = 0;
    for (; *text; ++text) {
        current = is_separator(*text) ? 0 : current + 1;
        if (current > longest) longest = current;
    }
    return longest;
}
