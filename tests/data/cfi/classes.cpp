struct A { virtual int f() { return 1; } virtual ~A() {} };
struct B { virtual int g() { return 2; } virtual ~B() {} };
A *make_a() { return new A; }
B *make_b() { return new B; }
