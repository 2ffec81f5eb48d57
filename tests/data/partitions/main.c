#include <stdio.h>
#define DECL(n) int step##n(int);
DECL(0) DECL(1) DECL(2) DECL(3) DECL(4) DECL(5) DECL(6) DECL(7)
DECL(8) DECL(9) DECL(10) DECL(11) DECL(12) DECL(13) DECL(14) DECL(15)
int native_value(void);

int main(void) {
  int (*steps[])(int) = {step0, step1, step2,  step3,  step4,  step5,  step6,  step7,
                         step8, step9, step10, step11, step12, step13, step14, step15};
  int sum = 0;
  for (int round = 0; round < 3; round++)
    for (int i = 0; i < 16; i++)
      sum = (sum * 31 + steps[i](round)) % 1000003;
  printf("sum=%d native=%d\n", sum, native_value());
  return 0;
}
