// Native main for inline_exports.cpp: calls the out-of-line functions and
// the inline ones directly.
#include <stdio.h>

#define DECLARE(i) int twice##i(int); int call##i(int);
DECLARE(0) DECLARE(1) DECLARE(2) DECLARE(3) DECLARE(4) DECLARE(5) DECLARE(6) DECLARE(7)
DECLARE(8) DECLARE(9) DECLARE(10) DECLARE(11) DECLARE(12) DECLARE(13) DECLARE(14) DECLARE(15)

int main(void) {
  int (*const calls[])(int) = {call0, call1, call2,  call3,  call4,  call5,  call6,  call7,
                               call8, call9, call10, call11, call12, call13, call14, call15};
  int (*const twices[])(int) = {twice0, twice1, twice2,  twice3,  twice4,  twice5,
                                twice6, twice7, twice8,  twice9,  twice10, twice11,
                                twice12, twice13, twice14, twice15};
  long sum = 0;
  for (int i = 0; i < 16; ++i)
    sum = sum * 3 + calls[i](i) + twices[i](i + 1);
  printf("inline sum=%ld\n", sum);
  return 0;
}
