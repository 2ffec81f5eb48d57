/* C99 inline: every includer gets an available_externally copy, and the one
 * definition that prevails is in hot.c (extern declaration there). */
inline int clamp_small(int v) { return v < 0 ? 0 : (v > 1000 ? 1000 : v); }

int add_scaled(int acc, int v);
int uses_secret(int v);
long big_work(int seed);
int tunable(void);
extern const int weights[4];
