# trainyard — build, local stack, tests, benchmarks.
#
#   make run     install missing packages, build, run the whole stack in the foreground
#   make test    unit tests (plain and ASan+UBSan) and end-to-end tests through real
#                nginx + PostgreSQL
#   make bench   benchmarks, printed side by side with their references
#   make chaos   1,000 jobs from 3 workspaces under kill -9 and a PostgreSQL
#                restart: lost, finished twice, fair share (not part of test)
#   make soak    30 minutes of mixed traffic: memory, open files and storage
#                stay flat (not part of test)
#
# Every target that needs system packages depends on `deps`, which installs only
# what is missing (scripts/deps.sh).

CC ?= cc
BUILD ?= build
PKGS := json-c libxml-2.0 libpq libarchive libcrypto xgboost libseccomp libcurl
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS = $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lfcgi -lm -lpthread
OPT ?= -O2
SAN ?=
CFLAGS_BASE = -std=c11 -D_GNU_SOURCE -g $(OPT) $(SAN) -Wall -Wextra -Werror \
	-Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wformat=2 -Wvla -I. $(PKG_CFLAGS)
CFLAGS ?=
ALL_CFLAGS = $(CFLAGS_BASE) $(CFLAGS)
LDFLAGS ?=
TRAINYARD_PORT ?= 8080
export TRAINYARD_PORT

# Library: every module except the programs' mains. While one part of the tree
# is being worked on, a partial build can restrict both lists, e.g.
#   make BUILD=build/ml LIB_DIRS="common ml" UNIT_SRCS="$$(ls tests/unit/test_ml*.c)" test-unit
# (suites not linked in are skipped: they are weak symbols in tests/unit/main.c).
LIB_DIRS ?= common fcgi handlers db ml bundle trainer
LIB_SRCS := $(filter-out %/main.c,$(foreach d,$(LIB_DIRS),$(wildcard $(d)/*.c)))
LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/obj/%.o)
LIB := $(BUILD)/libtrainyard.a
# The terminal client's modules besides cli/main.c (HTTP through libcurl):
# linked into build/trainyard and into the unit tests.
CLI_OBJS := $(patsubst %.c,$(BUILD)/obj/%.o,$(filter-out cli/main.c,$(wildcard cli/*.c)))

PROGRAMS := $(BUILD)/trainyard-api $(BUILD)/trainyard-trainer $(BUILD)/trainyard $(BUILD)/trainyard-score
UNIT_SRCS ?= $(wildcard tests/unit/test_*.c)
UNIT_SRCS_ALL := tests/unit/main.c tests/unit/unit.c $(filter-out tests/unit/main.c tests/unit/unit.c,$(UNIT_SRCS))
UNIT_OBJS := $(UNIT_SRCS_ALL:%.c=$(BUILD)/obj/%.o)
UNIT := $(BUILD)/unit-tests

.PHONY: all programs bench-programs deps build run start stop rotate-logs test test-unit test-asan test-e2e test-asan-e2e \
	test-db test-fuzz-regress bench chaos soak clean psql fuzz
all: build

deps:
	@scripts/deps.sh

build: deps
	@$(MAKE) --no-print-directory programs web

# The web console: web/src + the pinned npm packages -> $(BUILD)/www, which
# scripts/stack.sh serves at / (web/build.sh runs npm ci only when the lock
# file changed).
WEB_SRCS := $(wildcard web/src/*) web/package.json web/package-lock.json web/build.sh
.PHONY: web
web: $(BUILD)/www/index.html
$(BUILD)/www/index.html: $(WEB_SRCS)
	@web/build.sh $(BUILD)/www

programs: $(PROGRAMS)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c $< -o $@

# The scorer shipped in model downloads is built into the API (.incbin).
$(BUILD)/obj/handlers/scorer_files.o: scorer/trainyard_scorer.py scorer/README.md

$(LIB): $(LIB_OBJS)
	@mkdir -p $(dir $@)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/trainyard-api: $(BUILD)/obj/handlers/main.o $(LIB)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

$(BUILD)/trainyard-trainer: $(BUILD)/obj/trainer/main.o $(LIB)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

$(BUILD)/trainyard: $(BUILD)/obj/cli/main.o $(CLI_OBJS) $(LIB)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

# The C scorer for downloaded models (scorer/main.c).
$(BUILD)/trainyard-score: $(BUILD)/obj/scorer/main.o $(LIB)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

$(UNIT): $(UNIT_OBJS) $(CLI_OBJS) $(LIB)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) $(shell pkg-config --libs check)

# Benchmark programs: bench/<name>.c -> $(BUILD)/bench/<name>
BENCH_SRCS := $(wildcard bench/*.c)
BENCH_PROGRAMS := $(BENCH_SRCS:bench/%.c=$(BUILD)/bench/%)
bench-programs: $(BENCH_PROGRAMS)
$(BUILD)/bench/%: $(BUILD)/obj/bench/%.o $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

# Fuzz targets: tests/fuzz/fuzz_<name>.c -> build/fuzz/fuzz_<name> (clang, libFuzzer)
FUZZ_SRCS := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_CC ?= clang
FUZZ_FLAGS = -std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined -I. $(PKG_CFLAGS)
build/fuzz/%: tests/fuzz/%.c $(LIB_SRCS)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) -o $@ $< $(filter-out %/main.c,$(FUZZ_DEPS_$*)) $(PKG_LIBS)
# FUZZ_DEPS_fuzz_<name> (the sources each target compiles in) live beside the targets.
-include tests/fuzz/fuzz.mk

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)

# --- local stack --------------------------------------------------------------
run: build
	@scripts/stack.sh run

start: build
	@scripts/stack.sh start

stop:
	@scripts/stack.sh stop

psql:
	@scripts/stack.sh psql

# Rotates the local stack's logs over TRAINYARD_LOG_MAX_MB (start and run do too).
rotate-logs:
	@scripts/stack.sh rotate-logs

# --- tests --------------------------------------------------------------------
test: build
	@$(MAKE) --no-print-directory test-unit
	@$(MAKE) --no-print-directory test-asan
	@$(MAKE) --no-print-directory test-fuzz-regress
	@$(MAKE) --no-print-directory test-db
	@$(MAKE) --no-print-directory test-e2e

# The database layer and trainers against a throwaway PostgreSQL.
test-db: build
	@BUILD=$(BUILD) tests/db/run.sh

# Every fuzz target replays its committed corpus once (no fuzzing).
test-fuzz-regress: deps
	@scripts/fuzz.sh --regress

test-unit: deps
	@$(MAKE) --no-print-directory $(UNIT)
	$(UNIT)

# The same unit suite under AddressSanitizer + UndefinedBehaviorSanitizer.
test-asan: deps
	@$(MAKE) --no-print-directory BUILD=$(BUILD)/asan OPT=-O1 \
		SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" \
		$(BUILD)/asan/unit-tests
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
		CK_FORK=no CK_DEFAULT_TIMEOUT=$${CK_DEFAULT_TIMEOUT:-180} \
		$(BUILD)/asan/unit-tests

test-e2e: build
	@scripts/e2e.sh

# The e2e suite once against the sanitizer build of the API, the trainer and
# the CLI (build/asan). The worker's and the bundle unpacker's address-space limits are off (ASan's
# shadow memory is terabytes of address space), so the memory-bomb test is
# skipped; leak detection is off (the daemons run until killed, and the
# worker is not dumpable, which LeakSanitizer needs): the unit run checks
# leaks. A report kills the process; e2e.sh also fails the run on any report
# left in the stack's logs (the worker's stderr is its trainer's log).
ASAN_E2E_SAN = -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
# ASan's shadow memory and quarantine inflate RSS: the memory-based recycling
# (TRAINYARD_WORKER_RSS_SLACK) is off for this run, or workers would retire mid-test.
test-asan-e2e: deps
	@$(MAKE) --no-print-directory BUILD=$(BUILD)/asan OPT=-O1 SAN="$(ASAN_E2E_SAN)" programs
	ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
		TRAINYARD_CHILD_MEMORY=0 TRAINYARD_SANDBOX_UNPACK_MEMORY=0 TRAINYARD_E2E_ASAN=1 TRAINYARD_WORKER_RSS_SLACK=0 \
		TRAINYARD_BUILD=$(BUILD)/asan scripts/e2e.sh

bench: build
	@scripts/bench.sh

# Kills trainers, job children and API workers and restarts PostgreSQL
# while CHAOS_JOBS (1000) jobs run; prints what was lost (nothing, we hope).
chaos: build
	@scripts/chaos.sh

# SOAK_SECONDS (1800) of mixed traffic in every dialect: RSS, open files and
# stored bytes sampled every 30 s; fails if any of them keeps growing.
soak: build
	@scripts/soak.sh

fuzz: deps
	@scripts/fuzz.sh

clean:
	rm -rf build
