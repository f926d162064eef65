// tests/core/main.cpp: the doctest runner for libgreen's core tests (build/core_tests).
//
// doctest's crash handler is off: it replaces the SIGSEGV handler and the thread's sigaltstack
// around every test case and restores the previous ones afterwards, which would remove the
// handler and alternate stack libgreen installs once (at the first hub) to report fiber stack
// overflows (stack_test.cpp checks that report).
#define DOCTEST_CONFIG_NO_POSIX_SIGNALS
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>
