# g1relay build: one binary, unit tests (sanitized), end-to-end tests, fuzz, bench.
#
#   make            build ./g1relay (optimised)
#   make run        bootstrap, build, run with ./g1relay.conf (or defaults) and ./data
#   make test       bootstrap, build, unit tests under ASan+UBSan, then e2e tests
#   make check      unit tests under ASan+UBSan only
#   make e2e-san    the relay's protocol e2e suites against the ASan+UBSan binary
#   make fuzz       libFuzzer target for the message parser (FUZZ_SECONDS=600); also builds
#                   the metadata fuzzer, run with FUZZ_METADATA_SECONDS=N
#   make bench      benchmarks: relay, plugins, settlement (figures on stdout; see docs/BENCHMARKS.md)
#
# Sources are found by wildcard: every .c under relay/ plugins/ settlement/ ipfs/
# goes into libg1relay.a except relay/main.c; each tests/unit/test_*.c is one
# test program linked against that library.
# BUILD=DIR and BIN=PATH put objects and the binary elsewhere (parallel builds).

CC      ?= cc
CSTD    := -std=c17 -D_GNU_SOURCE
WARN    := -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter -Wvla
OPT     ?= -O2 -g
INCS    := -I. -Irelay -Iplugins -Isettlement -Iipfs
LIBS    := -lwebsockets -lsecp256k1 -lsodium -llmdb -lcjson -lxxhash -lpthread -lm
SAN     := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all

SRC_DIRS := relay plugins settlement ipfs
LIB_SRCS := $(filter-out relay/main.c,$(foreach d,$(SRC_DIRS),$(wildcard $(d)/*.c)))
HDRS     := $(foreach d,$(SRC_DIRS),$(wildcard $(d)/*.h))
UNIT_SRCS := $(wildcard tests/unit/test_*.c)

BUILD    ?= build
BIN      ?= g1relay
SAN_BIN  ?= $(BUILD)/g1relay-san
OBJS     := $(LIB_SRCS:%.c=$(BUILD)/opt/%.o)
SAN_OBJS := $(LIB_SRCS:%.c=$(BUILD)/san/%.o)
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/san/unit/%)

.PHONY: all run test check e2e e2e-san fuzz bench bootstrap clean tools g1relay-san

all: $(BIN) tools

$(BUILD)/opt/%.o: %.c $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(CSTD) $(WARN) $(OPT) $(INCS) -c $< -o $@

$(BUILD)/san/%.o: %.c $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(CSTD) $(WARN) -O1 -g $(SAN) $(INCS) -c $< -o $@

$(BUILD)/libg1relay.a: $(OBJS)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/libg1relay-san.a: $(SAN_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(BIN): relay/main.c $(BUILD)/libg1relay.a $(HDRS)
	$(CC) $(CSTD) $(WARN) $(OPT) $(INCS) relay/main.c $(BUILD)/libg1relay.a $(LIBS) -o $@

# The same binary built with sanitizers (run e2e against it with
# G1RELAY_BIN=$(SAN_BIN) G1_E2E_TIME_FACTOR=3 scripts/run-e2e-tests.sh).
g1relay-san: $(SAN_BIN)
$(SAN_BIN): relay/main.c $(BUILD)/libg1relay-san.a $(HDRS)
	$(CC) $(CSTD) $(WARN) -O1 -g $(SAN) $(INCS) relay/main.c $(BUILD)/libg1relay-san.a $(LIBS) -o $@

$(BUILD)/san/unit/%: tests/unit/%.c tests/unit/unit.h $(BUILD)/libg1relay-san.a
	@mkdir -p $(dir $@)
	$(CC) $(CSTD) $(WARN) -O1 -g $(SAN) $(INCS) -Itests/unit $< $(BUILD)/libg1relay-san.a $(LIBS) -o $@

# Helper programs for tests and benchmarks (load generator etc.).
TOOL_SRCS := $(wildcard tests/tools/*.c)
TOOL_BINS := $(TOOL_SRCS:tests/tools/%.c=$(BUILD)/tools/%)
tools: $(TOOL_BINS)
$(BUILD)/tools/%: tests/tools/%.c $(BUILD)/libg1relay.a
	@mkdir -p $(dir $@)
	$(CC) $(CSTD) $(WARN) $(OPT) $(INCS) $< $(BUILD)/libg1relay.a $(LIBS) -o $@

bootstrap:
	@scripts/bootstrap.sh

check: $(UNIT_BINS)
	@scripts/run-unit-tests.sh $(UNIT_BINS)

e2e: $(BIN) tools
	@G1RELAY_BIN=$(abspath $(BIN)) G1RELAY_TOOLS=$(abspath $(BUILD))/tools scripts/run-e2e-tests.sh

run: bootstrap
	@$(MAKE) --no-print-directory $(BIN)
	./$(BIN) run $(if $(wildcard g1relay.conf),--config g1relay.conf) --data ./data

# The relay's network-facing suites again against the ASan+UBSan binary: any
# sanitizer report or unclean exit of the relay fails the test file.
E2E_SAN_FILES := $(wildcard tests/e2e/relay_*.test.mjs) tests/e2e/plugins.test.mjs tests/e2e/tls_nodes.test.mjs
e2e-san: $(SAN_BIN)
	@G1RELAY_BIN=$(abspath $(SAN_BIN)) G1RELAY_TOOLS=$(abspath $(BUILD))/tools G1_E2E_TIME_FACTOR=3 \
	    scripts/run-e2e-tests.sh $(E2E_SAN_FILES)

test: bootstrap
	@$(MAKE) --no-print-directory all
	@$(MAKE) --no-print-directory check
	@$(MAKE) --no-print-directory e2e
	@$(MAKE) --no-print-directory e2e-san

FUZZ_SECONDS ?= 600
FUZZ_METADATA_SECONDS ?= 0
FUZZ_JOURNAL_SECONDS ?= 60
fuzz:
	@mkdir -p $(BUILD)/fuzz
	clang $(CSTD) -g -O1 -fsanitize=fuzzer,address,undefined $(INCS) tests/fuzz/fuzz_message.c $(LIB_SRCS) $(LIBS) -o $(BUILD)/fuzz/fuzz_message
	@mkdir -p $(BUILD)/fuzz/corpus
	cp -n tests/fuzz/corpus/* $(BUILD)/fuzz/corpus/ 2>/dev/null || true
	$(BUILD)/fuzz/fuzz_message -max_total_time=$(FUZZ_SECONDS) -max_len=65536 $(BUILD)/fuzz/corpus
	clang $(CSTD) -g -O1 -fsanitize=fuzzer,address,undefined $(INCS) tests/fuzz/fuzz_metadata.c $(LIB_SRCS) $(LIBS) -o $(BUILD)/fuzz/fuzz_metadata
	@mkdir -p $(BUILD)/fuzz/metadata_corpus
	cp -n $${G1_SHARED:-/work/shared}/g1/*.scale $(BUILD)/fuzz/metadata_corpus/ 2>/dev/null || true
	if [ "$(FUZZ_METADATA_SECONDS)" -gt 0 ]; then $(BUILD)/fuzz/fuzz_metadata -max_total_time=$(FUZZ_METADATA_SECONDS) -max_len=200000 -timeout=10 $(BUILD)/fuzz/metadata_corpus; fi
	clang $(CSTD) -g -O1 -fsanitize=fuzzer,address,undefined $(INCS) tests/fuzz/fuzz_journal.c $(LIB_SRCS) $(LIBS) -o $(BUILD)/fuzz/fuzz_journal
	@mkdir -p $(BUILD)/fuzz/journal_corpus
	if [ "$(FUZZ_JOURNAL_SECONDS)" -gt 0 ]; then $(BUILD)/fuzz/fuzz_journal -max_total_time=$(FUZZ_JOURNAL_SECONDS) -max_len=16384 $(BUILD)/fuzz/journal_corpus; fi

bench: bootstrap
	@$(MAKE) --no-print-directory all
	@G1RELAY_BIN=$(abspath $(BIN)) G1RELAY_TOOLS=$(abspath $(BUILD))/tools scripts/bench.sh
	@G1RELAY_BIN=$(abspath $(BIN)) G1RELAY_TOOLS=$(abspath $(BUILD))/tools scripts/bench-settlement.sh
	@echo "== settlement: paying reactions (reactions/s accepted, like to finalized receipt)"
	@G1RELAY_BIN=$(abspath $(BIN)) node scripts/bench-reactions.mjs | grep '^RESULT'

clean:
	rm -rf $(BUILD) g1relay g1relay-san
