# libgreen: `make` builds everything, `make test` runs every test, `make demo` the echo demo,
# `make bench` the benchmark table, `make check-asan` / `check-ubsan` / `check-tsan` the core tests under
# a sanitizer and `make check-asan-preload` the preload's tests under ASan (below), `make check-werror`
# every source with -Werror under g++ and clang++ (below),
# `make compile_commands.json` the compile commands for clangd and other tools (bear),
# `make install` / `make uninstall` (PREFIX, DESTDIR, LIBDIR: at the end).
# Missing Debian packages are installed first when run as root.

# Build in parallel by default (the machines have 2 cores; tests compile doctest).
# (Once, at the top: a sub-make, as check-asan runs, shares its parent's job slots.)
ifeq ($(MAKELEVEL),0)
MAKEFLAGS += -j$(shell nproc 2>/dev/null || echo 2)
endif

CXX      ?= g++
CC       ?= gcc
BUILD    ?= build
# The version, once: greenrun --version, libgreen.so.VERSION, green.pc, the CMake package, the man
# page. The soname changes with the major version only.
VERSION  := 0.1.0
SONAME   := libgreen.so.$(firstword $(subst ., ,$(VERSION)))
VERSION_DEF := -DGREEN_VERSION='"$(VERSION)"'
# Where `make install` puts things (DESTDIR too, for staging). LIBDIR may be a multiarch directory
# (e.g. LIBDIR=/usr/lib/x86_64-linux-gnu): greenrun finds the preload in ../lib/<multiarch> too.
PREFIX   ?= /usr/local
BINDIR   ?= $(PREFIX)/bin
LIBDIR   ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
DATADIR  ?= $(PREFIX)/share
MANDIR   ?= $(DATADIR)/man
DOCDIR   ?= $(DATADIR)/doc/libgreen
CONNS    ?= 100 1000
OPT      ?= -O2
# WERROR=1: warnings are errors (CI builds make test so).
WERROR_FLAG = $(if $(filter 1 yes true,$(WERROR)),-Werror)
CXXFLAGS += -std=c++20 $(OPT) $(WERROR_FLAG) -g -fPIC -fno-semantic-interposition -Wall -Wextra -pthread -Ilibgreen/include
CFLAGS   += -std=gnu11 $(OPT) $(WERROR_FLAG) -g -Wall -Wextra -pthread
# Boost.Context is linked in statically: its jump is on every switch, a PLT hop costs there.
LIBS     := -lev -Wl,-Bstatic -lboost_context -Wl,-Bdynamic -pthread

CORE_SRC := $(wildcard libgreen/context/*.cpp libgreen/hub/*.cpp libgreen/sync/*.cpp libgreen/api/*.cpp)
CORE_OBJ := $(CORE_SRC:%.cpp=$(BUILD)/obj/%.o)
PRELOAD_SRC := $(wildcard preload/*/*.cpp)
PRELOAD_OBJ := $(PRELOAD_SRC:%.cpp=$(BUILD)/obj/%.o)
# The runtime's and the preload's own errno is read in the installed TCB at each use: code that
# parks may resume on another OS thread (context/errno_here.hpp).
$(CORE_OBJ) $(PRELOAD_OBJ): CXXFLAGS += -include libgreen/context/errno_here.hpp
# The preload defines functions glibc's headers also define inline when optimising (getc_unlocked,
# getline, pthread_equal...): without glibc's inline versions its hooks are the only definitions
# (clang refuses a second one; g++ lets it pass).
$(PRELOAD_OBJ): CXXFLAGS += -D__NO_INLINE__
TEST_SRC := $(wildcard tests/core/*.cpp)
TEST_OBJ := $(TEST_SRC:%.cpp=$(BUILD)/obj/%.o)
BENCH_SRC := $(wildcard bench/*.cpp)
BENCH_C_SRC := $(wildcard bench/*.c)
GREENRUN_SRC := tools/greenrun.c tools/greenrun_options.c tools/greenrun_target.c
EXAMPLE_SRC := $(wildcard demo/examples/*.cpp demo/examples/*.c)
# The sources of the programs, each compiled alone into an object that nothing links (make objects,
# for check-werror): greenrun, the benchmarks, the demo, the examples.
PROGRAM_SRC := $(GREENRUN_SRC) $(BENCH_SRC) $(BENCH_C_SRC) $(wildcard demo/*.c demo/*.cpp) $(EXAMPLE_SRC)
PROGRAM_OBJ := $(addsuffix .o,$(basename $(PROGRAM_SRC:%=$(BUILD)/obj/%)))

DEPS_OK  := $(BUILD)/.deps-ok

.PHONY: all test bench demo install uninstall deb clean deps examples check-asan check-asan-preload check-ubsan check-tsan check-sanitizers cpython-tests FORCE \
        programs objects program-objects testprogs format check-format check-werror werror-gcc werror-clang compile_commands.json
all: $(BUILD)/libgreen.so $(BUILD)/libgreen.a $(BUILD)/libgreen_preload.so $(BUILD)/greenrun

deps: $(DEPS_OK)
$(DEPS_OK): scripts/ensure-deps.sh
	@mkdir -p $(BUILD)
	@scripts/ensure-deps.sh
	@touch $@

# Each compile writes the headers it read into a dependency file beside its output (-MMD; -MP adds
# an empty rule per header, so a deleted header is no error), which is included below: a header
# change rebuilds exactly what includes it. Where the dependency file is missing (a fresh clone,
# or an output built before this rule), the empty rule for it makes the output rebuilt.
DEPFLAGS = -MMD -MP -MF $@.d
$(BUILD)/obj/%.o: %.cpp $(BUILD)/obj/%.o.d | $(DEPS_OK)
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS) $(DEPFLAGS) -c $< -o $@
$(BUILD)/obj/%.o: %.c $(BUILD)/obj/%.o.d | $(DEPS_OK)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(DEPFLAGS) -c $< -o $@
# (Named as targets without a recipe: a missing one counts as changed, and none is ever deleted as
# an intermediate file.)
DEPFILES := $(CORE_OBJ:=.d) $(PRELOAD_OBJ:=.d) $(TEST_OBJ:=.d) $(BENCH_SRC:bench/%.cpp=$(BUILD)/bench/%.d) \
            $(BUILD)/echo_green.d $(patsubst demo/examples/%.cpp,$(BUILD)/examples/%.d,$(wildcard demo/examples/*.cpp)) \
            $(PROGRAM_OBJ:=.d)
$(DEPFILES):
-include $(wildcard $(DEPFILES))

# $(call write_if_changed,FILE,TEXT): FILE holds TEXT and is rewritten only when TEXT changes, so
# that what depends on it is rebuilt when a setting (version, install directory) changes, and
# not on every run.
define write_if_changed
	@mkdir -p $(dir $(1)); printf '%s\n' '$(2)' | cmp -s - $(1) || printf '%s\n' '$(2)' >$(1)
endef
FORCE:
$(BUILD)/.version: FORCE
	$(call write_if_changed,$@,$(VERSION) $(SONAME))

# build/libgreen.so carries the soname of the installed libgreen.so.VERSION (so a program linked
# here runs against an install too); the SONAME link beside it is what programs linked here load.
$(BUILD)/libgreen.so: $(CORE_OBJ) $(BUILD)/.version
	$(CXX) $(CXXFLAGS) $(LDFLAGS) -shared -Wl,-soname,$(SONAME) -Wl,-Bsymbolic-functions -Wl,--exclude-libs,libboost_context.a $(CORE_OBJ) -o $@ $(LIBS)
	ln -sfn libgreen.so $(BUILD)/$(SONAME)

# The GREEN_STATS report names the version (preload/core/stats.cpp).
$(BUILD)/obj/preload/core/stats.o: CXXFLAGS += $(VERSION_DEF)
$(BUILD)/obj/preload/core/stats.o: $(BUILD)/.version

$(BUILD)/libgreen.a: $(CORE_OBJ)
	rm -f $@ && ar rcs $@ $^

# The preload carries its own copy of the core, with the core's symbols kept private, so that it
# needs nothing beside it and cannot clash with a program that links libgreen.so itself. It exports
# only its hooks: the glibc names its objects define (tools/preload_exports.sh writes the version
# script; tests/symbols/run.sh checks the result).
PRELOAD_MAP := $(BUILD)/preload.map
$(PRELOAD_MAP): $(PRELOAD_OBJ) tools/preload_exports.sh
	CC='$(CC)' tools/preload_exports.sh $@ $(PRELOAD_OBJ)
$(BUILD)/libgreen_preload.so: $(PRELOAD_OBJ) $(BUILD)/libgreen.a $(PRELOAD_MAP)
	$(CXX) $(LDFLAGS) -shared -Wl,-Bsymbolic-functions $(PRELOAD_OBJ) -Wl,--whole-archive $(BUILD)/libgreen.a -Wl,--no-whole-archive \
	    -Wl,--exclude-libs,ALL -Wl,--version-script,$(PRELOAD_MAP) -o $@ $(LIBS) -lcares -ldl

# greenrun looks for the preload beside itself, in ../lib and ../lib/<multiarch>; the installed
# one also at the path of its install (GREEN_PRELOAD_PATH), rebuilt when LIBDIR changes.
MULTIARCH     = $(shell $(CC) -print-multiarch 2>/dev/null)
GREENRUN_DEFS = $(VERSION_DEF) $(if $(MULTIARCH),-DGREEN_MULTIARCH='"$(MULTIARCH)"')
$(BUILD)/greenrun: $(GREENRUN_SRC) tools/greenrun.h libgreen/context/size_syntax.h preload/core/signal_syntax.h $(BUILD)/.version | $(DEPS_OK)
	$(CC) $(CFLAGS) $(GREENRUN_DEFS) $(GREENRUN_SRC) -o $@
$(BUILD)/install/libdir: FORCE
	$(call write_if_changed,$@,$(LIBDIR))
$(BUILD)/install/greenrun: $(GREENRUN_SRC) tools/greenrun.h libgreen/context/size_syntax.h preload/core/signal_syntax.h $(BUILD)/.version $(BUILD)/install/libdir | $(DEPS_OK)
	$(CC) $(CFLAGS) $(GREENRUN_DEFS) -DGREEN_PRELOAD_PATH='"$(LIBDIR)/libgreen_preload.so"' $(GREENRUN_SRC) -o $@

$(BUILD)/core_tests: $(TEST_OBJ) $(BUILD)/libgreen.so
	$(CXX) $(LDFLAGS) $(TEST_OBJ) -o $@ -L$(BUILD) -Wl,-rpath,'$$ORIGIN' -lgreen $(LIBS)

# The install tests come after the suites: env.sh runs the preload with GREEN_* values and ways
# to exit; run.sh installs into temporary directories (make install DESTDIR=...) and builds
# consumers of the installed library. tests/symbols/run.sh checks that the preload exports only
# the glibc symbols it hooks, and that they still interpose.
test: all $(BUILD)/core_tests
	@tests/run_all.sh $(BUILD)
	@CC='$(CC)' timeout 120 tests/symbols/run.sh $(BUILD)
	@timeout 300 tests/install/env.sh $(BUILD)
	@timeout 600 tests/install/run.sh $(BUILD)
	@timeout 300 tests/install/deb.sh $(BUILD)

# Sanitizer runs of the core tests: `make check-asan`, `check-ubsan`, `check-tsan` (or all three,
# one after the other: `check-sanitizers`). Each builds the core library and tests into a directory
# of its own (build-asan, build-ubsan, build-tsan; build/ is left alone) with SAN_OPT and the
# sanitizer's flags, then runs them. context/fiber.cpp announces every fiber switch to ASan and
# TSan (compiled in only under those sanitizers). Known findings that are kept quiet are in
# tests/sanitizers/*.supp, each with its reason. Test cases are excluded (doctest -tce filters; a
# ',' in a name is written '?') only where the test measures something the sanitizer changes, or
# as noted.
SAN_OPT  ?= -O1 -g
SAN_SUPP := $(CURDIR)/tests/sanitizers
SAN_TEST  = build-$(1)/core_tests --no-intro=true
# $(call san_build,NAME,SANITIZER[,CXX[,TARGETS]]): build-NAME/core_tests (or TARGETS) with
# -fsanitize=SANITIZER.
define san_build
	+$(MAKE) --no-print-directory BUILD=build-$(1) $(if $(3),CXX=$(3)) \
	    OPT='$(SAN_OPT) -fsanitize=$(2) -fno-omit-frame-pointer' LDFLAGS='$(LDFLAGS) -fsanitize=$(2)' \
	    $(if $(4),$(4),build-$(1)/core_tests)
endef

# ASan + LeakSanitizer, in two runs:
#  1. every test but ASAN_APART, with stack-use-after-return detection on (each fiber gets a fake
#     stack of its own) and leak checking (tests/sanitizers/lsan.supp);
#  2. ASAN_APART, without those two:
#     - "100,000 greenlets ...": 200,000 fiber starts, each mapping and unmapping a fake stack,
#       took 80 s instead of 4 (and the test requires < 20 s); it measures RSS, which ASan's
#       quarantine makes grow: a 16 MB quarantine here.
#     - "70,000 simultaneously sleeping ...": it uses up vm.max_map_count on purpose; ASan maps its
#       shadow for large mmaps in pieces, which needs mappings of its own: clear_shadow_mmap_threshold
#       makes it clear that shadow in place instead.
ASAN_APART := 100?000 greenlets spawned and joined*,70?000 simultaneously sleeping greenlets*
check-asan:
	$(call san_build,asan,address)
	ASAN_OPTIONS=detect_leaks=1:detect_stack_use_after_return=1:strict_string_checks=1:check_initialization_order=1 \
	LSAN_OPTIONS=suppressions=$(SAN_SUPP)/lsan.supp:print_suppressions=0 \
	    $(call SAN_TEST,asan) -tce='$(ASAN_APART)'
	ASAN_OPTIONS=detect_leaks=0:detect_stack_use_after_return=0:quarantine_size_mb=16:clear_shadow_mmap_threshold=1099511627776 \
	    $(call SAN_TEST,asan) -tc='$(ASAN_APART)'

# make check-asan-preload: tests/preload/run.sh's differential suite (each program natively, then
# preloaded: same stdout and status) with the ASan build of the preload, build-asan/libgreen_preload.so
# (greenrun is built beside it, for runs by hand: no case that runs here uses it), put after libasan
# in LD_PRELOAD (PRELOAD_FIRST: ASan's runtime must come first). The preloaded runs have
# GREEN_THREADS=native (PRELOAD_ENV): ASan's per-thread state (AsanThread: stack bounds, static
# TLS, DTLS) assumes a pthread is a kernel thread, which a green thread is not (programs that create
# threads die in __sanitizer::DTLS_Destroy under the preload's key destructors); every other hook
# stays on. The cases that cannot run so, each with its reason, and the ASan findings not fixed yet
# are in tests/sanitizers/asan_preload_skip.txt (PRELOAD_SKIP). ASAN_PRELOAD_OPTIONS:
#  - detect_leaks=0: the preload keeps some records for the process's life on purpose (e.g. the
#    main thread's fiber-stack cache, libgreen/context/stack_pool.cpp local_cache, given back only
#    when a hub ends: reported in proc_wait's fork children); the programs under test (sort, rg,
#    fd, ruby...) leave memory at exit too; and a process under a seccomp filter cannot run the
#    exit-time leak check (it stops the world with a tracer thread: seccomp_child's child dies of
#    SIGSYS);
#  - exitcode=86, abort_on_error=0 (Linux's default, stated): a report ends the process with
#    _exit(86), not SIGABRT, a status no test uses (a failed check exits 1), so a FAIL line's
#    "preloaded exit 86" names ASan; a report in a child whose status its parent does not pass on
#    fails the case too (PRELOAD_ERR_PATTERN, ASAN_REPORT_ERE: a report's first line in the
#    preloaded run's stderr);
#  - nothing else: ASan's defaults serve. handle_segv=1 lets a program install its own SIGSEGV
#    handler over ASan's (allow_user_segv_handler is deprecated, and true); no ODR violation is
#    reported (libgreen is linked into the preload privately: detect_odr_violation stays on).
# About 80 s on 2 cores once built (and ~50 s to build the preload beside check-asan's objects).
ASAN_PRELOAD_OPTIONS := detect_leaks=0:exitcode=86:abort_on_error=0
# The first line of an ASan report, of a report made while reporting, of a failed internal check.
ASAN_REPORT_ERE := ^==[0-9]+==ERROR: AddressSanitizer|AddressSanitizer: (nested bug|CHECK failed)
check-asan-preload:
	$(call san_build,asan,address,,build-asan/libgreen_preload.so build-asan/greenrun)
	ASAN_OPTIONS=$(ASAN_PRELOAD_OPTIONS) PRELOAD_FIRST="$$($(CXX) -print-file-name=libasan.so)" \
	PRELOAD_ENV=GREEN_THREADS=native PRELOAD_SKIP=$(SAN_SUPP)/asan_preload_skip.txt \
	PRELOAD_ERR_PATTERN='$(ASAN_REPORT_ERE)' \
	    timeout 900 tests/preload/run.sh build-asan

check-ubsan:
	$(call san_build,ubsan,undefined)
	UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 $(call SAN_TEST,ubsan)

# TSan is built with clang++ when there is one (TSAN_CXX): GCC 12's libtsan takes ~2.5 ms to
# create and destroy a fiber (clang 14's: ~10 us): the suite took 11 minutes instead of 20 s.
# Excluded:
#  - every test whose forked child goes on running greenlets (tests/sanitizers/fork_tests.sh finds
#    them: the callers of tu::run_in_child). TSan counts each fiber as a thread, so every such fork
#    is a multi-threaded one to it: it stops tracking synchronization in the forking fiber, then
#    reports races between the child's other fibers and what ran before the fork (or dies if the
#    child starts a thread). It cannot judge these children at all.
#  - tests that measure the process, which TSan's own per-fiber and per-thread state changes:
#    "100,000 greenlets ..." (RSS, mapping count), "short-lived threads that run greenlets do not
#    leak stacks" (mapping count: TSan's runtime maps as it goes).
TSAN_CXX     ?= $(if $(CLANG_CXX),clang++,$(CXX))
TSAN_EXCLUDE  = $(shell tests/sanitizers/fork_tests.sh),100?000 greenlets spawned and joined*,short-lived threads that run greenlets do not leak stacks
check-tsan:
	$(call san_build,tsan,thread,$(TSAN_CXX))
	TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1:suppressions=$(SAN_SUPP)/tsan.supp \
	    $(call SAN_TEST,tsan) -tce='$(TSAN_EXCLUDE)'

# One after the other: the tests measure time; three sanitized runs at once on 2 cores would not.
check-sanitizers:
	$(MAKE) --no-print-directory check-asan
	$(MAKE) --no-print-directory check-ubsan
	$(MAKE) --no-print-directory check-tsan

$(BUILD)/bench/%: bench/%.cpp $(BUILD)/bench/%.d $(BUILD)/libgreen.so
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS) $(DEPFLAGS) $< -o $@ -L$(BUILD) -Wl,-rpath,'$$ORIGIN/..' -lgreen $(LIBS)

$(BUILD)/bench/%: bench/%.c | $(DEPS_OK)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $< -o $@

bench: all $(BENCH_SRC:bench/%.cpp=$(BUILD)/bench/%) $(BENCH_C_SRC:bench/%.c=$(BUILD)/bench/%) demo-build
	@bench/run.sh $(BUILD)

DEMO_BIN := $(BUILD)/echo_threads $(BUILD)/echo_green $(BUILD)/echo_load $(BUILD)/echo_epoll
demo-build: all $(DEMO_BIN)
$(BUILD)/echo_threads: demo/echo_threads.c | $(DEPS_OK)
	$(CC) $(CFLAGS) $< -o $@
$(BUILD)/echo_epoll: demo/echo_epoll.c | $(DEPS_OK)
	$(CC) $(CFLAGS) $< -o $@
$(BUILD)/echo_load: demo/echo_load.cpp | $(DEPS_OK)
	$(CXX) -std=c++20 $(OPT) -g -Wall -Wextra -pthread $< -o $@
$(BUILD)/echo_green: demo/echo_green.cpp $(BUILD)/echo_green.d $(BUILD)/libgreen.so
	$(CXX) $(CXXFLAGS) $(DEPFLAGS) $< -o $@ -L$(BUILD) -Wl,-rpath,'$$ORIGIN' -lgreen $(LIBS)

demo: demo-build
	@demo/run_demo.sh $(BUILD) "$(CONNS)"

# make example-NAME: the seed examples in demo/examples/
$(BUILD)/examples/%: demo/examples/%.cpp $(BUILD)/examples/%.d $(BUILD)/libgreen.so
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS) $(DEPFLAGS) $< -o $@ -L$(BUILD) -Wl,-rpath,'$$ORIGIN/..' -lgreen $(LIBS)
$(BUILD)/examples/%: demo/examples/%.c | $(DEPS_OK)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $< -o $@
.PRECIOUS: $(BUILD)/examples/% $(BUILD)/bench/%
example-%: all $(BUILD)/examples/% demo-build
	@demo/examples/run.sh $(BUILD) $*

# make programs: every program `make all`, the tests, the demo and the benchmarks build, none run
# (core_tests, bench/, the echo programs, the examples). make objects: every source compiled alone
# and nothing linked (the programs' sources too, into objects of their own). make testprogs:
# tests/preload's programs compiled alone as tests/preload/run.sh compiles them (-O1; fortified*
# with -O2 -D_FORTIFY_SOURCE=2; a `// build: FLAGS` line's flags), with OPT's flags but its -O.
PROGRAMS = $(BUILD)/core_tests $(BENCH_SRC:bench/%.cpp=$(BUILD)/bench/%) $(BENCH_C_SRC:bench/%.c=$(BUILD)/bench/%) \
           $(DEMO_BIN) $(patsubst demo/examples/%,$(BUILD)/examples/%,$(basename $(EXAMPLE_SRC)))
programs: all $(PROGRAMS)
# (greenrun's objects with both its builds' macros: the installed one's code is read too.)
$(GREENRUN_SRC:%.c=$(BUILD)/obj/%.o): CFLAGS += $(GREENRUN_DEFS) -DGREEN_PRELOAD_PATH='"$(LIBDIR)/libgreen_preload.so"'
objects: $(CORE_OBJ) $(PRELOAD_OBJ) $(TEST_OBJ) $(PROGRAM_OBJ)
program-objects: $(PROGRAM_OBJ)
TESTPROG_SRC := $(wildcard tests/preload/*.c tests/preload/*.cpp tests/preload/helpers/*.c)
TESTPROG_FLAGS = $(if $(filter fortified%,$(notdir $<)),-O2 -D_FORTIFY_SOURCE=2,-O1) -g -pthread -Wall -Wextra \
    $(filter-out -O%,$(OPT)) $(shell sed -n '1,5s|^[[:space:]]*//[[:space:]]*build:||p' $< | head -n 1)
$(BUILD)/testprog/%.c.o: %.c $(wildcard tests/preload/*.h) | $(DEPS_OK)
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 $(TESTPROG_FLAGS) -c $< -o $@
$(BUILD)/testprog/%.cpp.o: %.cpp $(wildcard tests/preload/*.h) | $(DEPS_OK)
	@mkdir -p $(dir $@)
	$(CXX) -std=c++20 $(TESTPROG_FLAGS) -c $< -o $@
testprogs: $(TESTPROG_SRC:%=$(BUILD)/testprog/%.o)

# make check-werror: every source with -Werror, parsed (-fsyntax-only) by g++/gcc and by
# clang++/clang, the two at once, each into a directory of its own (build-werror-gcc,
# build-werror-clang). With WERROR=1 any build makes warnings fatal: CI builds `make test` so,
# which covers g++'s warnings that only optimisation finds (the parse cannot) for the library,
# the preload, greenrun and the core tests; the clang-built runtime runs in check-tsan. So g++
# parses here only the programs make test does not build (the benchmarks, demo, examples; it
# builds tests/preload's, their warnings shown), and clang++ everything. The clang half is skipped, with a message, where there is no clang++.
# (WERROR_BUILD=DIR: DIR-gcc and DIR-clang instead.)
WERROR_BUILD ?= build-werror
CLANG_CXX = $(shell command -v clang++ 2>/dev/null)
check-werror: werror-gcc werror-clang
werror-gcc:
	+$(MAKE) --no-print-directory BUILD=$(WERROR_BUILD)-gcc CXX=g++ CC=gcc OPT='$(OPT) -Werror -fsyntax-only' program-objects
werror-clang:
	$(if $(CLANG_CXX),+$(MAKE) --no-print-directory BUILD=$(WERROR_BUILD)-clang CXX=clang++ CC=clang OPT='$(OPT) -Werror -fsyntax-only' \
	    objects testprogs,@echo "check-werror: no clang++ (apt-get install clang): its half is skipped")

# make format: clang-format every C and C++ source in place (.clang-format at the root; tools/
# and tests/preload/ have their own, for their C). make check-format: fails, listing them, if
# any source differs from its formatting.
FORMAT_SRC = $(shell git ls-files '*.c' '*.h' '*.cpp' '*.hpp' 2>/dev/null)
format:
	clang-format -i $(FORMAT_SRC)
check-format:
	@bad=$$(clang-format --dry-run --Werror $(FORMAT_SRC) 2>&1 | sed -n 's/^\([^:]*\):[0-9]*:[0-9]*: error:.*/\1/p' | sort -u); \
	if [ -n "$$bad" ]; then echo "check-format: not formatted (make format):"; echo "$$bad"; exit 1; fi; \
	echo "check-format: $(words $(FORMAT_SRC)) sources formatted"

# make compile_commands.json: the command that compiles each source (the library, the preload,
# greenrun, the core tests, tests/preload's programs, the demo, the benchmarks, the examples), for
# clangd and other tools, as bear records them from `make programs testprogs` in a temporary
# directory (build/ is left alone), which is removed. Debian's bear is installed when missing and
# running as root, as cpython-tests installs its packages.
compile_commands.json:
	@command -v bear >/dev/null || [ "$$(id -u)" != 0 ] || ! command -v apt-get >/dev/null || \
	    { echo "libgreen: installing bear" >&2; export DEBIAN_FRONTEND=noninteractive; \
	      apt-get install -y -q --no-install-recommends bear >&2 || \
	      { apt-get update -q >&2; apt-get install -y -q --no-install-recommends bear >&2; }; }
	@command -v bear >/dev/null || { echo "libgreen: make $@ needs bear: sudo apt-get install -y bear" >&2; exit 1; }
	+tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	    bear --output $@.new -- $(MAKE) --no-print-directory BUILD="$$tmp" programs testprogs && mv -f $@.new $@

# make install [PREFIX=/usr/local] [DESTDIR=] [LIBDIR=$(PREFIX)/lib] ...; make uninstall with the same
# directories removes exactly what install put (packaging/install.sh holds the one list). An install
# without DESTDIR, as root, runs LDCONFIG (LDCONFIG=: skips it).
LDCONFIG ?= ldconfig
INSTALL_ENV = DESTDIR='$(DESTDIR)' PREFIX='$(PREFIX)' BINDIR='$(BINDIR)' LIBDIR='$(LIBDIR)' \
    INCLUDEDIR='$(INCLUDEDIR)' DATADIR='$(DATADIR)' MANDIR='$(MANDIR)' DOCDIR='$(DOCDIR)' \
    VERSION='$(VERSION)' SONAME='$(SONAME)' LDCONFIG='$(LDCONFIG)'
install: all $(BUILD)/install/greenrun
	@$(INSTALL_ENV) packaging/install.sh install $(BUILD)
uninstall:
	@$(INSTALL_ENV) packaging/install.sh uninstall $(BUILD)

# make deb: the Debian packages libgreen0, libgreen-dev and greenrun, built by dpkg-buildpackage
# and debhelper (debian/) from a clean copy of the sources (packaging/deb.sh).
deb:
	@packaging/deb.sh $(BUILD)

clean:
	rm -rf $(BUILD) build-asan build-ubsan build-tsan $(WERROR_BUILD)-gcc $(WERROR_BUILD)-clang

# make cpython-tests [CPYTHON_MODULES="test_socket ..."]: CPython's own tests (Debian's
# libpython3.11-testsuite) natively and preloaded, listing the preloaded-only failures
# (tests/cpython/run.sh; about 12 minutes; not part of make test).
cpython-tests: all
	@tests/cpython/run.sh $(BUILD) $(CPYTHON_MODULES)
