// A small C++ program spread over several translation units, written for the
// LTO tests: virtual calls across modules, a template with a static data
// member used from three modules (a comdat with a dynamic initializer),
// std::cout from static initializers in two modules, an exception thrown in
// one module and caught in another, a thread_local with a dynamic
// initializer, a function-local static, init_priority.
#pragma once
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

struct Shape {
  static constexpr const char *kind = "shape";
  virtual ~Shape();
  virtual double area() const = 0;
  virtual std::string name() const = 0;
};

std::unique_ptr<Shape> make_circle(double radius);
std::unique_ptr<Shape> make_square(double side);

// A ticket per type; the initializer of `ticket` runs at startup, once,
// whichever module's copy prevails (three modules hold one for Shape). C++
// leaves such initializers unordered, so the program prints only how many
// tickets were issued, from main.
int next_ticket(const char *kind);
int tickets_issued();
template <typename T> struct Registry {
  static int ticket;
  static std::vector<std::string> &names() {
    static std::vector<std::string> list; // function-local static with a guard
    return list;
  }
  static void add(const std::string &name) { names().push_back(ticket > 0 ? name : name + " (ticket missing)"); }
};
template <typename T> int Registry<T>::ticket = next_ticket(T::kind);

struct geometry_error : std::runtime_error {
  explicit geometry_error(const std::string &what, int code)
      : std::runtime_error(what), code(code) {}
  int code;
};
void check_positive(double value); // throws geometry_error

extern thread_local std::string thread_label; // dynamic TLS initializer
int tls_uses();

int log_line(const std::string &line); // prints to std::cout, returns the count so far
