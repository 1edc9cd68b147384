// A minimal harness for the plain C++ units: TEST(name) { CHECK(...); }.
// The program runs the tests named on its command line (all without names)
// and prints one line per test; --list prints the names.
#pragma once

#include <cstdio>
#include <cstring>
#include <vector>

namespace unit {

struct Case {
  const char* name;
  void (*body)();
};

inline std::vector<Case>& cases() {
  static std::vector<Case> all;
  return all;
}

inline int& failures() {
  static int n = 0;
  return n;
}

struct Register {
  Register(const char* name, void (*body)()) { cases().push_back({name, body}); }
};

}  // namespace unit

#define TEST(name)                                              \
  static void test_##name();                                    \
  static unit::Register register_##name(#name, test_##name);    \
  static void test_##name()

#define CHECK(cond)                                                                   \
  do {                                                                                \
    if (!(cond)) {                                                                    \
      std::fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond); \
      unit::failures()++;                                                             \
      return;                                                                         \
    }                                                                                 \
  } while (0)

#define CHECK_EQ(a, b)                                                                                   \
  do {                                                                                                   \
    auto va_ = (a);                                                                                      \
    auto vb_ = (b);                                                                                      \
    if (!(va_ == vb_)) {                                                                                 \
      std::fprintf(stderr, "%s:%d: CHECK_EQ(%s, %s) failed: %lld vs %lld\n", __FILE__, __LINE__, #a, #b, \
                   (long long)va_, (long long)vb_);                                                     \
      unit::failures()++;                                                                                \
      return;                                                                                            \
    }                                                                                                    \
  } while (0)
