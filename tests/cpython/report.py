"""Compares one module's native and preloaded runs of CPython's tests (tests/cpython/run.sh).

    python3 report.py module OUT MODULE   print MODULE's block, append its counts to OUT/counts
    python3 report.py summary OUT         print the summary line; exit 1 if any preloaded-only failure

For each MODE (native, preload) run.sh leaves in OUT: MODULE.MODE.events (driver.py's lines),
MODULE.MODE.log (regrtest -v output) and MODULE.MODE.status ("RC SECONDS TIMEOUT_SECONDS").
A test failed if it had a failure, an error (also in a subtest) or an unexpected success, or if
it was running when the run timed out or died. A preloaded-only failure is a test that failed
preloaded and passed natively, or a preloaded run that timed out, died or failed outside any test
while the native one did not. With CPYTHON_RERUN set (run.sh sets it: "GREENRUN PYTHON DRIVER
SECONDS"), each preloaded-only test is run once more alone, preloaded, and marked "fails again
alone" or "passes alone" (flaky, or it depends on the tests before it); the counts stay.
"""
import os
import subprocess
import sys

FAILED = ("fail", "error", "xpass", "timeout", "crash", "incomplete")


def load(out, module, mode):
    base = os.path.join(out, f"{module}.{mode}")
    with open(base + ".status") as f:
        rc, secs, limit = f.read().split()
    rc, secs, limit = int(rc), float(secs), float(limit)
    outcome, order = {}, []
    try:
        with open(base + ".events", encoding="utf-8", errors="replace") as f:
            lines = f.read().splitlines()
    except FileNotFoundError:
        lines = []
    for line in lines:
        event, _, test = line.partition(" ")
        if test not in outcome:
            order.append(test)
            outcome[test] = None
        if event == "start":
            continue
        prev = outcome[test]
        if prev in ("fail", "error", "xpass"):
            continue                       # a failure sticks (subtests, then addSuccess never)
        outcome[test] = {"ok": "ok", "skip": "skip", "xfail": "xfail"}.get(event, event)
    timed_out = rc == 124 or (rc == 137 and secs >= limit)
    died = not timed_out and rc > 128
    running = [t for t in order if outcome[t] is None]
    for t in running:
        outcome[t] = "timeout" if timed_out else "crash" if died else "incomplete"
    env_changed = False
    try:
        with open(base + ".log", encoding="utf-8", errors="replace") as f:
            for line in f:
                if "failed (env changed)" in line or line.startswith("Result: ENV CHANGED"):
                    env_changed = True
    except FileNotFoundError:
        pass
    failed = [t for t in order if outcome[t] in FAILED]
    # a run that ended badly with no failing test to show for it: import error, crash at exit...
    broken = timed_out or died or (rc not in (0, 2) and not failed) or (rc == 2 and not failed)
    return dict(rc=rc, secs=secs, limit=limit, outcome=outcome, order=order, failed=failed,
                running=running, timed_out=timed_out, died=died, broken=broken,
                env_changed=env_changed, last=order[-1] if order else None)


def how(run):
    if run["timed_out"]:
        return f"timed out after {run['limit']:.0f} s"
    if run["died"]:
        return f"killed by signal {run['rc'] - 128}"
    return f"exit status {run['rc']}"


def rerun(out, module, line):
    spec = os.environ.get("CPYTHON_RERUN", "").split()
    test = line.split()[1]
    if len(spec) != 4 or line.startswith("MODULE") or "(" in test:
        return ""
    greenrun, python, driver, secs = spec
    base = os.path.abspath(os.path.join(out, f"{module}.rerun"))
    if os.path.exists(base + ".events"):
        os.unlink(base + ".events")
    scratch = os.environ.get("CPYTHON_RERUN_DIR") or None     # cwd and TMPDIR, as for the runs
    env = dict(os.environ)
    if scratch:
        os.makedirs(scratch, exist_ok=True)
        env["TMPDIR"] = scratch
    for name in ("CPYTHON_RERUN", "CPYTHON_RERUN_DIR"):
        env.pop(name, None)
    with open(base + ".log", "a") as log:
        log.write(f"===== {test}\n")
        log.flush()
        rc = subprocess.call(["timeout", "-k", "10", "-s", "USR1", secs, greenrun, python, driver,
                              base + ".events", "-v", *os.environ.get("CPYTHON_TEST_ARGS", "").split(),
                              module, "-m", test],
                             stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                             cwd=scratch, env=env)
    events = []
    if os.path.exists(base + ".events"):
        with open(base + ".events", errors="replace") as f:
            events = [l.split(" ", 1)[0] for l in f if l.split(" ", 1)[1].strip() == test]
    if rc == 0 and "ok" in events and not set(events) & {"fail", "error", "xpass"}:
        return " [passes alone]"
    return f" [fails again alone{'' if rc in (0, 2) else ', ' + ('timeout' if rc in (124, 137) else f'status {rc}')}]"


def module_report(out, module):
    nat, pre = load(out, module, "native"), load(out, module, "preload")
    tests = len(set(nat["order"]) | set(pre["order"]))
    print(f"{module}: {tests} tests (native {nat['secs']:.0f} s, preloaded {pre['secs']:.0f} s); "
          f"native failures {len(nat['failed'])}, preloaded failures {len(pre['failed'])}")
    only = []
    for t in pre["failed"]:
        if nat["outcome"].get(t) == "ok":
            kind = pre["outcome"][t].upper()
            note = ""
            if kind in ("TIMEOUT", "CRASH"):
                not_reached = len([u for u in nat["order"] if u not in pre["outcome"]])
                note = f" ({how(pre)}; {not_reached} tests not reached)"
            only.append(f"{kind} {t}{note}")
    if pre["broken"] and not nat["broken"] and not any(pre["outcome"][t] in ("timeout", "crash")
                                                      for t in pre["failed"]):
        if pre["running"]:                 # the running test also fails natively
            where = f"while running {pre['running'][0]}"
        elif pre["last"]:
            where = f"after {pre['last']}" if pre["timed_out"] or pre["died"] else "outside any test"
        else:
            where = "before any test"
        only.append(f"MODULE {module} ({how(pre)}, {where})")
    for line in only:
        print(f"  PRELOADED-ONLY {line}{rerun(out, module, line)}", flush=True)
    if nat["broken"]:
        print(f"  note: the native run ended badly ({how(nat)}); see {module}.native.log")
    if pre["env_changed"] and not nat["env_changed"]:
        print(f"  note: preloaded only: regrtest reports the environment changed; "
              f"see {module}.preload.log")
    with open(os.path.join(out, "counts"), "a") as f:
        f.write(f"{module} {tests} {len(only)}\n")


def summary(out):
    modules = tests = only = 0
    try:
        with open(os.path.join(out, "counts")) as f:
            for line in f:
                _, n, k = line.split()
                modules, tests, only = modules + 1, tests + int(n), only + int(k)
    except FileNotFoundError:
        pass
    print(f"cpython: {modules} modules, {tests} tests, {only} preloaded-only failures")
    return 1 if only else 0


if __name__ == "__main__":
    if sys.argv[1] == "module":
        module_report(sys.argv[2], sys.argv[3])
    else:
        sys.exit(summary(sys.argv[2]))
