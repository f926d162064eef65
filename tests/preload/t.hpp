// t.hpp - the C++ tests' CHECK (t.h is C): CHECK(cond) prints "FAIL file:line: cond" and marks
// the run failed (`failed`). Plain C++, nothing from libgreen.
#ifndef LIBGREEN_TEST_T_HPP
#define LIBGREEN_TEST_T_HPP

#include <cstdio>

static int failed;
#define CHECK(cond)                                                                                          \
    do {                                                                                                     \
        if (!(cond)) {                                                                                       \
            std::printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond);                                      \
            std::fflush(stdout);                                                                             \
            failed = 1;                                                                                      \
        }                                                                                                    \
    } while (0)

#endif
