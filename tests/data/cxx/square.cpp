#include "shapes.h"
#include <iostream>

Shape::~Shape() = default;

namespace {
struct Square final : Shape {
  static constexpr const char *kind = "square";
  explicit Square(double s) : s(s) {}
  double area() const override { return s * s; }
  std::string name() const override { return "square"; }
  double s;
};
struct Announce {
  Announce() { std::cout << "square: static init" << std::endl; }
};
Announce announce;
} // namespace

std::unique_ptr<Shape> make_square(double side) {
  check_positive(side);
  Registry<Square>::add("square");
  Registry<Shape>::add("square");
  return std::make_unique<Square>(side);
}

void check_positive(double value) {
  if (value <= 0)
    throw geometry_error("not positive: " + std::to_string(static_cast<int>(value)), 42);
}
