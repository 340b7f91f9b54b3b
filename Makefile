# yolov5c build. `make` builds ./yolov5c; `make test` runs the whole suite;
# `make asan` runs it under AddressSanitizer + UndefinedBehaviorSanitizer;
# `make bench` runs the benchmarks.
#
# Every src/**/*.c except the CLI goes into one static library that the binary,
# the tests (tests/**/test_*.c, one binary each) and the benchmarks
# (bench/bench_*.c) link. Files named *_avx512.c / *_avx512bf16.c / *_avx2.c hold ISA-specific
# kernels and get their -m flags alone; the choice among them is made at run
# time from cpuid, so the binary runs on any x86-64.

CC      ?= cc
BUILD   ?= build
OPT     ?= -O3
CFLAGS  ?= $(OPT) -g
CFLAGS  += -std=c11 -D_POSIX_C_SOURCE=200809L -Wall -Wextra -Wshadow -fopenmp -Isrc -Itests
LDLIBS  += -lyaml -lcjson -lstb -ljpeg -lm
LDFLAGS += -fopenmp

AVX512_FLAGS := -mavx512f -mavx512bw -mavx512dq -mavx512vl -mavx2 -mfma
AVX2_FLAGS   := -mavx2 -mfma
AVX512BF16_FLAGS := $(AVX512_FLAGS) -mavx512bf16
ISA_FLAGS = $(if $(findstring _avx512bf16.c,$<),$(AVX512BF16_FLAGS),$(if $(findstring _avx512.c,$<),$(AVX512_FLAGS),$(if $(findstring _avx2.c,$<),$(AVX2_FLAGS))))

# dist_mpi.c is MPI's Dist: only the MPI-capable binary links it (see below).
LIB_SRC   := $(filter-out src/cli/% src/dist/dist_mpi.c,$(shell find src -name '*.c' | sort))
CLI_SRC   := $(shell find src/cli -name '*.c' | sort)
TEST_SRC  := $(shell find tests -name 'test_*.c' | sort)
BENCH_SRC := $(wildcard bench/bench_*.c)
SRC_HEADERS := $(shell find src -name '*.h')
HEADERS   := $(SRC_HEADERS) $(shell find tests -name '*.h')

# Library members are stored by file name, so two sources with one name in
# different folders would shadow each other: refuse that up front.
DUP_NAMES := $(shell basename -a $(LIB_SRC) | sort | uniq -d)
$(if $(DUP_NAMES),$(error source file names must be unique across src/ (library members): $(DUP_NAMES)))

LIB_OBJ   := $(LIB_SRC:%.c=$(BUILD)/%.o)
CLI_OBJ   := $(CLI_SRC:%.c=$(BUILD)/%.o)
TEST_BIN  := $(TEST_SRC:%.c=$(BUILD)/%)
BENCH_BIN := $(BENCH_SRC:%.c=$(BUILD)/%)
LIB       := $(BUILD)/libyolov5c.a
DEPS_OK   := build/.deps-ok

.PHONY: all test asan bench clean deps demo yolov5c
all: yolov5c

# MPI: `make MPI=1` makes ./yolov5c the MPI-capable binary ($(BUILD)/yolov5c-mpi),
# which can join an `mpirun -np N` job (data-parallel training). It is the
# same objects with src/dist/dist_mpi.c linked in place of the library's
# world-of-one dist_local.c, so only that file is compiled with mpicc's flags.
MPI ?= 0
MPICC ?= mpicc
HAVE_MPI := $(shell command -v $(MPICC) >/dev/null 2>&1 && command -v mpirun >/dev/null 2>&1 && echo 1)
MPI_BIN := $(if $(HAVE_MPI),$(BUILD)/yolov5c-mpi)

deps: $(DEPS_OK)
$(DEPS_OK): scripts/deps.sh
	@mkdir -p $(dir $@)
	@CC="$(CC)" scripts/deps.sh
	@touch $@

$(BUILD)/%.o: %.c $(SRC_HEADERS) | $(DEPS_OK)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(ISA_FLAGS) -c $< -o $@

$(LIB): $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/yolov5c: $(CLI_OBJ) $(LIB)
	$(CC) $(LDFLAGS) $(CLI_OBJ) $(LIB) $(LDLIBS) -o $@

ifeq ($(MPI),1)
yolov5c: $(BUILD)/yolov5c-mpi
else
yolov5c: $(BUILD)/yolov5c
endif
	@cmp -s $< $@ || cp $< $@

$(BUILD)/src/dist/dist_mpi.o: src/dist/dist_mpi.c $(SRC_HEADERS) | $(DEPS_OK)
	@command -v $(MPICC) >/dev/null || { echo "MPI build: $(MPICC) not found; install it: sudo apt-get install openmpi-bin libopenmpi-dev" >&2; exit 1; }
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(shell $(MPICC) --showme:compile 2>/dev/null) -c $< -o $@

$(BUILD)/yolov5c-mpi: $(CLI_OBJ) $(BUILD)/src/dist/dist_mpi.o $(LIB)
	$(CC) $(LDFLAGS) $(CLI_OBJ) $(BUILD)/src/dist/dist_mpi.o $(LIB) $(LDLIBS) $(shell $(MPICC) --showme:link 2>/dev/null) -o $@

$(BUILD)/tests/%: tests/%.c $(LIB) $(HEADERS) | $(DEPS_OK)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $< $(LIB) $(LDFLAGS) $(LDLIBS) -o $@

$(BUILD)/bench/%: bench/%.c $(LIB) $(HEADERS) | $(DEPS_OK)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $< $(LIB) $(LDFLAGS) $(LDLIBS) -o $@

# The CLI tests run ./yolov5c, so it is built first; the MPI tests use
# $(BUILD)/yolov5c-mpi when mpicc and mpirun are installed (else they skip).
test: yolov5c $(TEST_BIN) $(MPI_BIN)
	@YV5_BIN=./yolov5c tests/run.sh $(BUILD)/tests

# Same suite, separate build tree, sanitizers on. halt_on_error makes any report fatal.
asan:
	$(MAKE) BUILD=build/asan OPT="-O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined" \
	    LDFLAGS="-fopenmp -fsanitize=address,undefined" build/asan/yolov5c $(TEST_SRC:%.c=build/asan/%) \
	    $(if $(HAVE_MPI),build/asan/yolov5c-mpi)
	@ASAN_OPTIONS=detect_leaks=1:halt_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	    YV5_BIN=build/asan/yolov5c TEST_TIMEOUT=900 tests/run.sh build/asan/tests

# Generates the built-in shapes dataset if absent, trains yolov5n on it for a
# few CPU minutes, validates, and says where the weights and images are.
demo: yolov5c
	scripts/demo.sh

bench: $(BENCH_BIN)
	@for b in $(BENCH_BIN); do echo "== $$b"; $$b || exit 1; done

clean:
	rm -rf build yolov5c
