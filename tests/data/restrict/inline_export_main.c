// Native main for inline_export.ll: calls the preserved inline function
// directly, with no copy of its own.
#include <stdio.h>

int exported_inline(int);
int caller(int);

int main(void) {
  printf("%d %d\n", caller(4), exported_inline(5));
  return 0;
}
