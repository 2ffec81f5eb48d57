#include "shapes.h"
#include <cstdlib>
#include <iostream>
#include <thread>

int main(int argc, char **) {
  std::vector<std::unique_ptr<Shape>> shapes;
  shapes.push_back(make_circle(2.0 + argc - 1));
  shapes.push_back(make_square(3.0));
  shapes.push_back(make_circle(1.0));
  double total = 0;
  for (const auto &shape : shapes) {
    total += shape->area();
    log_line(shape->name() + " " + std::to_string(static_cast<int>(shape->area())));
  }
  std::cout << "total " << total << ", shapes registered " << Registry<Shape>::names().size()
            << ", tickets issued " << tickets_issued() << ", shape ticket valid "
            << (Registry<Shape>::ticket > 0 && Registry<Shape>::ticket <= tickets_issued())
            << std::endl;
  for (const auto &name : Registry<Shape>::names())
    log_line("registered " + name);
  try {
    make_square(-static_cast<double>(argc));
    std::cout << "no exception" << std::endl;
  } catch (const geometry_error &e) {
    std::cout << "caught geometry_error: " << e.what() << " code " << e.code << std::endl;
  } catch (const std::exception &e) {
    std::cout << "caught something else: " << e.what() << std::endl;
  }
  thread_label += "!";
  int other = 0;
  std::thread worker([&] { other = tls_uses(); });
  worker.join();
  std::cout << "tls main " << tls_uses() << " worker " << other << std::endl;
  return log_line("done") == 7 ? 0 : 1;
}
