# libgreen: `make` builds everything, `make test` runs every test, `make demo` the echo demo,
# `make bench` the benchmark table. Missing Debian packages are installed first when run as root.

# Build in parallel by default (the machines have 2 cores; tests compile doctest).
MAKEFLAGS += -j$(shell nproc 2>/dev/null || echo 2)

CXX      ?= g++
CC       ?= gcc
BUILD    ?= build
PREFIX   ?= /usr/local
CONNS    ?= 100 1000
OPT      ?= -O2
CXXFLAGS += -std=c++20 $(OPT) -g -fPIC -fno-semantic-interposition -Wall -Wextra -pthread -Ilibgreen/include
CFLAGS   += -std=gnu11 $(OPT) -g -Wall -Wextra -pthread
# Boost.Context is linked in statically: its jump is on every switch, a PLT hop costs there.
LIBS     := -lev -Wl,-Bstatic -lboost_context -Wl,-Bdynamic -pthread

CORE_SRC := $(wildcard libgreen/context/*.cpp libgreen/hub/*.cpp libgreen/sync/*.cpp libgreen/api/*.cpp)
CORE_OBJ := $(CORE_SRC:%.cpp=$(BUILD)/obj/%.o)
PRELOAD_SRC := $(wildcard preload/*.cpp)
PRELOAD_OBJ := $(PRELOAD_SRC:%.cpp=$(BUILD)/obj/%.o)
TEST_SRC := $(wildcard tests/core/*.cpp)
TEST_OBJ := $(TEST_SRC:%.cpp=$(BUILD)/obj/%.o)
BENCH_SRC := $(wildcard bench/*.cpp)
BENCH_C_SRC := $(wildcard bench/*.c)
HEADERS  := $(wildcard libgreen/include/green/*.hpp libgreen/include/green/*.h libgreen/include/green/detail/*.hpp \
              libgreen/*/*.hpp preload/*.hpp tests/core/*.hpp)

DEPS_OK  := $(BUILD)/.deps-ok

.PHONY: all test bench demo install clean deps examples
all: $(BUILD)/libgreen.so $(BUILD)/libgreen.a $(BUILD)/libgreen_preload.so $(BUILD)/greenrun

deps: $(DEPS_OK)
$(DEPS_OK): scripts/ensure-deps.sh
	@mkdir -p $(BUILD)
	@scripts/ensure-deps.sh
	@touch $@

$(BUILD)/obj/%.o: %.cpp $(HEADERS) | $(DEPS_OK)
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS) -c $< -o $@

$(BUILD)/libgreen.so: $(CORE_OBJ)
	$(CXX) $(CXXFLAGS) -shared -Wl,-soname,libgreen.so -Wl,-Bsymbolic-functions -Wl,--exclude-libs,libboost_context.a $^ -o $@ $(LIBS)

$(BUILD)/libgreen.a: $(CORE_OBJ)
	rm -f $@ && ar rcs $@ $^

# The preload carries its own copy of the core, with the core's symbols kept private, so that it
# needs nothing beside it and cannot clash with a program that links libgreen.so itself.
$(BUILD)/libgreen_preload.so: $(PRELOAD_OBJ) $(BUILD)/libgreen.a
	$(CXX) -shared -Wl,-Bsymbolic-functions $(PRELOAD_OBJ) -Wl,--whole-archive $(BUILD)/libgreen.a -Wl,--no-whole-archive \
	    -Wl,--exclude-libs,ALL -o $@ $(LIBS) -lcares -ldl

$(BUILD)/greenrun: tools/greenrun.c | $(DEPS_OK)
	$(CC) $(CFLAGS) $< -o $@

$(BUILD)/core_tests: $(TEST_OBJ) $(BUILD)/libgreen.so
	$(CXX) $(TEST_OBJ) -o $@ -L$(BUILD) -Wl,-rpath,'$$ORIGIN' -lgreen $(LIBS)

test: all $(BUILD)/core_tests
	@tests/run_all.sh $(BUILD)

$(BUILD)/bench/%: bench/%.cpp $(BUILD)/libgreen.so $(HEADERS)
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS) $< -o $@ -L$(BUILD) -Wl,-rpath,'$$ORIGIN/..' -lgreen $(LIBS)

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
$(BUILD)/echo_green: demo/echo_green.cpp $(BUILD)/libgreen.so $(HEADERS)
	$(CXX) $(CXXFLAGS) $< -o $@ -L$(BUILD) -Wl,-rpath,'$$ORIGIN' -lgreen $(LIBS)

demo: demo-build
	@demo/run_demo.sh $(BUILD) "$(CONNS)"

# make example-NAME: the seed examples in demo/examples/
$(BUILD)/examples/%: demo/examples/%.cpp $(BUILD)/libgreen.so $(HEADERS)
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS) $< -o $@ -L$(BUILD) -Wl,-rpath,'$$ORIGIN/..' -lgreen $(LIBS)
$(BUILD)/examples/%: demo/examples/%.c | $(DEPS_OK)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $< -o $@
.PRECIOUS: $(BUILD)/examples/% $(BUILD)/bench/%
example-%: all $(BUILD)/examples/% demo-build
	@demo/examples/run.sh $(BUILD) $*

install: all
	install -d $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/include/green/detail \
	    $(DESTDIR)$(PREFIX)/lib/pkgconfig
	install -m 755 $(BUILD)/libgreen.so $(BUILD)/libgreen_preload.so $(DESTDIR)$(PREFIX)/lib/
	install -m 644 $(BUILD)/libgreen.a $(DESTDIR)$(PREFIX)/lib/
	install -m 755 $(BUILD)/greenrun $(DESTDIR)$(PREFIX)/bin/
	install -m 644 libgreen/include/green/*.hpp libgreen/include/green/*.h $(DESTDIR)$(PREFIX)/include/green/
	install -m 644 libgreen/include/green/detail/*.hpp $(DESTDIR)$(PREFIX)/include/green/detail/
	sed -e 's|@PREFIX@|$(PREFIX)|g' libgreen/green.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/green.pc

clean:
	rm -rf $(BUILD)
