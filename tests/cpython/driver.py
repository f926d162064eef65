"""Runs CPython's regression test driver as `python3 -m test ARGS...` does, and logs each test's
outcome as it happens.

    python3 driver.py RESULTS ARGS...

RESULTS gets one line per event, `EVENT TEST_ID`, EVENT one of start, ok, fail, error, skip,
xfail, xpass (subtest failures are logged as fail/error of their test). Each line is a single
write(2) to an O_APPEND descriptor, so a run killed mid-test leaves its running test as the last
`start` with no outcome. Only this process logs: forked children (multiprocessing) stay quiet.
The descriptor is close-on-exec, so programs the tests start do not see it.
"""
import os
import runpy
import sys
import unittest.result

_PID = os.getpid()
_FD = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o644)


def _emit(event, test):
    if os.getpid() != _PID:
        return
    try:
        test_id = test.id()
    except Exception:
        test_id = str(test)
    line = f"{event} {' '.join(str(test_id).split())}\n"
    os.write(_FD, line.encode("utf-8", "backslashreplace"))


def _wrap(name, event):
    original = getattr(unittest.result.TestResult, name)

    def method(self, test, *args):
        if event is not None:
            _emit(event, test)
        return original(self, test, *args)

    method.__name__ = name
    setattr(unittest.result.TestResult, name, method)


def _add_error(self, test, err, _original=unittest.result.TestResult.addError):
    _emit("error", test)
    return _original(self, test, err)


def _add_subtest(self, test, subtest, err, _original=unittest.result.TestResult.addSubTest):
    if err is not None:
        _emit("fail" if issubclass(err[0], test.failureException) else "error", test)
    return _original(self, test, subtest, err)


for _name, _event in (("startTest", "start"), ("addSuccess", "ok"), ("addFailure", "fail"),
                      ("addSkip", "skip"), ("addExpectedFailure", "xfail"),
                      ("addUnexpectedSuccess", "xpass")):
    _wrap(_name, _event)
unittest.result.TestResult.addError = _add_error
unittest.result.TestResult.addSubTest = _add_subtest

if __name__ == "__main__":
    del sys.argv[1]
    runpy.run_module("test", run_name="__main__", alter_sys=True)
