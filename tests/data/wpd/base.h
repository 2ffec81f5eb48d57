// Whole-program devirtualization test: the only implementation of
// Animal::sound is in another module.
struct Animal { virtual ~Animal() {} virtual int sound(int) const = 0; };
Animal *make_dog();
