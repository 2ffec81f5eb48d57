// Control-flow integrity test: with an argument, main calls A::f on a B.
#include <cstdio>
struct A { virtual int f(); virtual ~A(); };
struct B { virtual int g(); virtual ~B(); };
A *make_a(); B *make_b();
int main(int argc, char **) {
  A *a = argc > 1 ? reinterpret_cast<A *>(make_b()) : make_a();
  std::printf("%d\n", a->f());
  return 0;
}
