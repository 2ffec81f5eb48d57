#include "base.h"
struct Dog : Animal { int sound(int x) const override { return x * 3 + 1; } };
Animal *make_dog() { return new Dog; }
