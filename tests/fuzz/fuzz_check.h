// FUZZ_CHECK(cond): an invariant of the code under test. A broken one aborts,
// which libFuzzer reports as a crash (and saves the input), with the condition
// printed before it. Unlike assert(), it is never compiled out.
#ifndef STAMPEDE_TESTS_FUZZ_FUZZ_CHECK_H_
#define STAMPEDE_TESTS_FUZZ_FUZZ_CHECK_H_

#include <cstdio>
#include <cstdlib>

#define FUZZ_CHECK(cond)                                              \
  do {                                                                \
    if (!(cond)) {                                                    \
      std::fprintf(stderr, "%s:%d: invariant broken: %s\n", __FILE__, \
                   __LINE__, #cond);                                  \
      std::abort();                                                   \
    }                                                                 \
  } while (0)

#endif  // STAMPEDE_TESTS_FUZZ_FUZZ_CHECK_H_
