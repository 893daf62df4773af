# securechat: a hand-written Makefile.
#   make          build build/securechat-node and build/securechat-tracker
#   make run      start a node (installs dependencies first when missing)
#   make test     unit, integration and (as root) network-namespace tests
#   make test SAN=1   the same under ASan + UBSan (build-san/)
#   make bench    optimised build, prints the benchmark table
#   make fuzz     libFuzzer harnesses, FUZZ_SECONDS each
#   make soak     the load test with 200 MiB files, 10 rounds (not run by CI)
#   make install  build, then install under PREFIX (/usr/local) in DESTDIR;
#                 make uninstall removes those files again
# V=1 shows the commands.

SAN ?= 0
V ?= 0
FUZZ_SECONDS ?= 30
ARGS ?=

ifeq ($(SAN),1)
BUILD := build-san
SANFLAGS := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
else
BUILD := build
SANFLAGS :=
endif

Q := $(if $(filter 1,$(V)),,@)
MSGPACK = $(shell pkg-config --exists msgpack-c 2>/dev/null && echo msgpack-c || echo msgpack)
# The node links no FFmpeg: only its helper securechat-media does (start-up and memory)
NODE_PKGS = libsodium libzmq $(MSGPACK) jansson readline libxxhash
MEDIA_PKGS = libavformat libavcodec libavutil
PKGS = $(NODE_PKGS) $(MEDIA_PKGS)

# CFLAGS is the user's (make CFLAGS=-O3); the project's own flags stay apart
CFLAGS ?= -O2 -g
SC_CFLAGS := -std=c11 -D_GNU_SOURCE -Wall -Wextra -Wshadow -Wno-unused-parameter \
             -MMD -MP $(SANFLAGS)
CPPFLAGS += $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDFLAGS += $(SANFLAGS)
LDLIBS += $(shell pkg-config --libs $(NODE_PKGS) 2>/dev/null) -lm
MEDIA_LDLIBS = $(shell pkg-config --libs $(MEDIA_PKGS) 2>/dev/null)

CRYPTO := crypto/base/err.c crypto/base/log.c crypto/base/fileio.c crypto/base/utf8.c crypto/base/walk.c crypto/base/mpack.c crypto/identity.c crypto/envelope.c
DISCOVERY := discovery/record.c discovery/udp.c discovery/beacon.c discovery/resolve.c discovery/tclient.c \
             discovery/tracker/registry.c discovery/tracker/registry_snap.c discovery/tracker/mailbox.c
# media/media.c (limits, the codec allowlist), media/dts.c (timestamps) and media/pack.c
# (the stream header and batch codec, msgpack-c) are plain C; the rest needs FFmpeg
MEDIA_PLAIN := media/media.c media/dts.c media/pack.c
MEDIA := media/probe.c media/source.c media/sink.c media/fdio.c
NODE := node/chat.c node/meet.c node/commands.c node/wire.c node/xfer.c node/ctlq.c node/child.c node/link.c node/files.c node/files_state.c node/files_shares.c node/files_send.c node/files_recv.c node/jobs.c node/video.c node/viewer.c node/owner.c node/transport.c node/known.c node/history.c node/peers.c node/cmd.c node/opts.c node/ui.c node/term.c node/complete.c node/node.c node/tracking.c node/tracking_held.c node/tracker.c node/tracker_mail.c
LIB_SRC := $(CRYPTO) $(DISCOVERY) $(MEDIA_PLAIN) $(NODE)
UNIT_SRC := $(wildcard tests/unit/*.c)

LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
NODE_BIN := $(BUILD)/securechat-node
MEDIA_BIN := $(BUILD)/securechat-media
TRACKER_BIN := $(BUILD)/securechat-tracker
UNIT_BIN := $(BUILD)/unit-tests

.PHONY: all deps run test test-run bench fuzz fuzz-run soak clean install uninstall
all: $(NODE_BIN) $(MEDIA_BIN) $(TRACKER_BIN)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(if $(Q),@echo "  CC      $<")
	$(Q)$(CC) $(CPPFLAGS) $(SC_CFLAGS) $(CFLAGS) -c $< -o $@

$(NODE_BIN): $(LIB_OBJ) $(BUILD)/obj/node/main.o
	$(if $(Q),@echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

$(TRACKER_BIN): $(LIB_OBJ) $(BUILD)/obj/node/tracker_main.o
	$(if $(Q),@echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

# The helper links media/ and the base helpers it uses, never node/ code
MEDIA_HELPER_OBJ := $(MEDIA:%.c=$(BUILD)/obj/%.o) $(MEDIA_PLAIN:%.c=$(BUILD)/obj/%.o) \
                    $(BUILD)/obj/crypto/base/err.o $(BUILD)/obj/crypto/base/walk.o $(BUILD)/obj/crypto/base/mpack.o $(BUILD)/obj/media/helper.o
$(MEDIA_BIN): $(MEDIA_HELPER_OBJ)
	$(if $(Q),@echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) $^ $(MEDIA_LDLIBS) $(shell pkg-config --libs $(MSGPACK) 2>/dev/null) $(shell pkg-config --libs libseccomp 2>/dev/null) -o $@

# --wrap=fsync: tests/unit/fault.c makes chosen fsyncs fail
$(UNIT_BIN): $(LIB_OBJ) $(UNIT_SRC:%.c=$(BUILD)/obj/%.o)
	$(if $(Q),@echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -Wl,--wrap=fsync $^ $(LDLIBS) -o $@

# Installs what is missing, then builds; run/test/bench/fuzz start here so
# that each is one command on a fresh Debian machine.
deps:
	@pkg-config --exists $(PKGS) 2>/dev/null && command -v ffmpeg tcpdump clang mandoc /usr/bin/python3 >/dev/null \
	  || ./contrib/install-deps.sh

run: deps
	@$(MAKE) --no-print-directory all
	./$(NODE_BIN) $(ARGS)

test: deps
	@$(MAKE) --no-print-directory test-run

FORGE_BIN := $(BUILD)/sc-forge
$(FORGE_BIN): $(LIB_OBJ) $(BUILD)/obj/tests/integration/forge.o
	$(if $(Q),@echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

EVIL_BIN := $(BUILD)/sc-evil-owner
$(EVIL_BIN): $(LIB_OBJ) $(BUILD)/obj/tests/integration/evil_owner.o
	$(if $(Q),@echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

# Throwaway keys that offer files (tests of the receiver's caps)
EVIL_FILES_BIN := $(BUILD)/sc-evil-files
$(EVIL_FILES_BIN): $(LIB_OBJ) $(BUILD)/obj/tests/integration/evil_files.o
	$(if $(Q),@echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

# Speaks the tracker's frames, honest or hostile (tests of securechat-tracker)
TRACKER_CLIENT_BIN := $(BUILD)/sc-tracker-client
$(TRACKER_CLIENT_BIN): $(LIB_OBJ) $(BUILD)/obj/tests/integration/tracker_client.o $(BUILD)/obj/tests/integration/tool.o
	$(if $(Q),@echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

# A hostile tracker (tests of the node's tracker client)
EVIL_TRACKER_BIN := $(BUILD)/sc-evil-tracker
$(EVIL_TRACKER_BIN): $(LIB_OBJ) $(BUILD)/obj/tests/integration/evil_tracker.o $(BUILD)/obj/tests/integration/tool.o
	$(if $(Q),@echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

test-run: $(NODE_BIN) $(MEDIA_BIN) $(TRACKER_BIN) $(UNIT_BIN) $(FORGE_BIN) $(EVIL_BIN) $(EVIL_FILES_BIN) \
          $(TRACKER_CLIENT_BIN) $(EVIL_TRACKER_BIN)
	@SC_BUILD=$(BUILD) SC_SAN=$(SAN) /usr/bin/python3 tests/run.py

# Soak: the load test of make test (three transfers into one node with chat)
# with SOAK_MIB files for SOAK_ROUNDS rounds; ends with a one-line verdict.
SOAK_MIB ?= 200
SOAK_ROUNDS ?= 10
soak: deps
	@$(MAKE) --no-print-directory $(NODE_BIN) $(MEDIA_BIN) $(UNIT_BIN)
	@start=$$(date +%s); \
	if SC_BUILD=$(BUILD) SC_SAN=$(SAN) SC_LOAD_MIB=$(SOAK_MIB) SC_LOAD_ROUNDS=$(SOAK_ROUNDS) \
	     /usr/bin/python3 tests/run.py "load:" > $(BUILD)/soak.log 2>&1 \
	   && grep -q "^1 passed, 0 failed" $(BUILD)/soak.log; then \
	  echo "soak: PASSED: $(SOAK_ROUNDS) rounds of 3 x $(SOAK_MIB) MiB into one node with chat, in $$(( $$(date +%s) - start )) s"; \
	else tail -n 30 $(BUILD)/soak.log; \
	  echo "soak: FAILED after $$(( $$(date +%s) - start )) s (the whole log: $(BUILD)/soak.log)"; exit 1; fi

# Benchmarks: an optimised build in build-bench/, then tests/bench/run.sh.
BENCH_SRC := tests/bench/proc.c
bench: deps
	@$(MAKE) --no-print-directory BUILD=build-bench CFLAGS="-O2 -DNDEBUG" build-bench/securechat-node build-bench/securechat-media build-bench/bench_mesh build-bench/bench_discovery build-bench/bench_links build-bench/bench_files build-bench/bench_video build-bench/sc-evil-files build-bench/bench_hostile \
	  build-bench/securechat-tracker build-bench/sc-tracker-client build-bench/bench_tracker
	@tests/bench/run.sh build-bench

build-bench/bench_video: tests/bench/bench_video.c $(BENCH_SRC)
	$(if $(Q),@echo "  LD      $@")
	$(Q)$(CC) $(CPPFLAGS) $(SC_CFLAGS) $(CFLAGS) $(LDFLAGS) $^ $(MEDIA_LDLIBS) -o $@

build-bench/bench_%: tests/bench/bench_%.c $(BENCH_SRC) $(LIB_OBJ)
	$(if $(Q),@echo "  LD      $@")
	$(Q)$(CC) $(CPPFLAGS) $(SC_CFLAGS) $(CFLAGS) $(LDFLAGS) $^ $(LDLIBS) -o $@

# Fuzzing: every decoder has a libFuzzer harness in tests/fuzz (clang, ASan+UBSan).
FUZZERS := wire envelope record beacon files cmd stream tracker
FUZZ_BIN := $(FUZZERS:%=build-fuzz/fuzz_%)

fuzz: deps
	@$(MAKE) --no-print-directory fuzz-run

fuzz-run: $(FUZZ_BIN)
	@for f in $(FUZZERS); do \
	  mkdir -p build-fuzz/corpus/$$f; \
	  printf 'fuzz %-10s %s s ... ' $$f $(FUZZ_SECONDS); \
	  if ./build-fuzz/fuzz_$$f -max_total_time=$(FUZZ_SECONDS) -max_len=4096 -timeout=10 \
	       -rss_limit_mb=1024 -print_final_stats=1 build-fuzz/corpus/$$f > build-fuzz/$$f.log 2>&1; then \
	    grep -o 'stat::number_of_executed_units: *[0-9]*' build-fuzz/$$f.log | awk '{print $$2 " runs, no crash"}'; \
	  else echo CRASH; tail -n 40 build-fuzz/$$f.log; exit 1; fi; \
	done

# The stream fuzzer also drives the real muxer, so it links FFmpeg
build-fuzz/fuzz_stream: tests/fuzz/fuzz_stream.c $(LIB_SRC) media/sink.c media/fdio.c
	@mkdir -p build-fuzz
	$(if $(Q),@echo "  FUZZ    $@")
	$(Q)clang -std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined \
	  $(CPPFLAGS) $^ $(LDLIBS) $(MEDIA_LDLIBS) -o $@

build-fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(LIB_SRC)
	@mkdir -p build-fuzz
	$(if $(Q),@echo "  FUZZ    $@")
	$(Q)clang -std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined \
	  $(CPPFLAGS) $^ $(LDLIBS) -o $@

clean:
	rm -rf build build-san build-fuzz build-bench

# Install: the binaries of the default build (-O2 -g, as make builds them:
# the same an installed node runs and the tests test), the helper in
# libexec/securechat/ (the node finds it there from bin/, wherever the tree
# is moved, so bin/ and libexec/ stay under one PREFIX), the manuals, bash
# completion for both commands, and the tracker's systemd unit (not enabled).
# MANDIR, BASHCOMPDIR and UNITDIR may be given on their own; systemd reads
# units from /usr/lib/systemd/system and /usr/local/lib/systemd/system.
PREFIX ?= /usr/local
DESTDIR ?=
MANDIR ?= $(PREFIX)/share/man
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
UNITDIR ?= $(PREFIX)/lib/systemd/system
INSTALL ?= install
I_BIN := $(DESTDIR)$(PREFIX)/bin
I_HELPER := $(DESTDIR)$(PREFIX)/libexec/securechat
I_MAN := $(DESTDIR)$(MANDIR)/man1
I_COMP := $(DESTDIR)$(BASHCOMPDIR)
I_UNIT := $(DESTDIR)$(UNITDIR)
MANPAGES := securechat-node.1 securechat-tracker.1

# Install paths may hold only these characters: unquoted in a recipe, a
# blank in DESTDIR="/tmp/x stage" made `uninstall` remove /tmp/x, and the
# unit's sed takes '|' and '&' for its own
I_OK := a b c d e f g h i j k l m n o p q r s t u v w x y z A B C D E F G H I J K L M N O P Q R S T U V W X Y Z 0 1 2 3 4 5 6 7 8 9 _ . / + @ : , = ~ -
I_STRIP = $(if $(2),$(call I_STRIP,$(subst $(firstword $(2)),,$(1)),$(wordlist 2,999,$(2))),$(1))
I_PATHS = $(DESTDIR)$(PREFIX)$(MANDIR)$(BASHCOMPDIR)$(UNITDIR)
I_CHECK = $(if $(or $(strip $(call I_STRIP,$(I_PATHS),$(I_OK))),$(filter-out 1,$(words $(I_PATHS)))),$(error PREFIX, DESTDIR and the other install directories may hold only letters, digits and _ . / + @ : , = ~ -))

install: all
	@: $(I_CHECK)
	$(INSTALL) -d $(I_BIN) $(I_HELPER) $(I_MAN) $(I_COMP) $(I_UNIT)
	$(INSTALL) -m 0755 $(NODE_BIN) $(TRACKER_BIN) $(I_BIN)/
	$(INSTALL) -m 0755 $(MEDIA_BIN) $(I_HELPER)/
	$(INSTALL) -m 0644 $(MANPAGES:%=contrib/man/%) $(I_MAN)/
	$(INSTALL) -m 0644 contrib/completion/securechat.bash $(I_COMP)/securechat-node
	$(INSTALL) -m 0644 contrib/completion/securechat.bash $(I_COMP)/securechat-tracker
	sed 's|@BINDIR@|$(PREFIX)/bin|g' contrib/securechat-tracker.service > $(I_UNIT)/securechat-tracker.service
	chmod 0644 $(I_UNIT)/securechat-tracker.service

# Removes exactly the files install put, and the helper's own directory
uninstall:
	@: $(I_CHECK)
	rm -f $(I_BIN)/securechat-node $(I_BIN)/securechat-tracker $(I_HELPER)/securechat-media \
	      $(MANPAGES:%=$(I_MAN)/%) $(I_COMP)/securechat-node $(I_COMP)/securechat-tracker \
	      $(I_UNIT)/securechat-tracker.service
	rmdir $(I_HELPER) 2>/dev/null || true

-include $(shell find build build-san build-bench -name '*.d' 2>/dev/null)
