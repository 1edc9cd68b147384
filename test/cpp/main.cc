#include "check.h"

int main(int argc, char** argv) {
  if (argc == 2 && std::strcmp(argv[1], "--list") == 0) {
    for (const unit::Case& c : unit::cases()) std::printf("%s\n", c.name);
    return 0;
  }
  int ran = 0;
  for (const unit::Case& c : unit::cases()) {
    bool wanted = argc == 1;
    for (int i = 1; i < argc; i++) wanted = wanted || std::strcmp(argv[i], c.name) == 0;
    if (!wanted) continue;
    int before = unit::failures();
    c.body();
    std::printf("%s %s\n", unit::failures() == before ? "ok" : "FAILED", c.name);
    ran++;
  }
  if (ran == 0) {
    std::fprintf(stderr, "no test matched\n");
    return 2;
  }
  return unit::failures() == 0 ? 0 : 1;
}
