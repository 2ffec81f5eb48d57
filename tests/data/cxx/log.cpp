#include "shapes.h"
#include <cstdio>
#include <cstdlib>
#include <iostream>

namespace {
struct Banner {
  Banner() { std::cout << "log: banner (default priority)" << std::endl; }
  ~Banner() { std::cout << "log: goodbye" << std::endl; }
};
Banner banner;

// Runs before every default-priority initializer in any module.
struct Early {
  // Before every default-priority initializer: std::cout is not constructed
  // yet (libstdc++ 12 builds it at default priority), so stdio.
  Early() {
    std::printf("log: early (init_priority 200), HOME %s\n", std::getenv("HOME") ? "set" : "unset");
    std::fflush(stdout);
  }
};
Early early __attribute__((init_priority(200)));
} // namespace

static int lines;
int log_line(const std::string &line) {
  std::cout << line << '\n';
  return ++lines;
}

static int &ticket_counter() {
  static int tickets = std::atoi("0"); // guarded local static, dynamic init
  return tickets;
}
int next_ticket(const char *kind) { return ++ticket_counter() + (kind[0] == '?'); }
int tickets_issued() { return ticket_counter(); }
