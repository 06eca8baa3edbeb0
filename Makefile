# Build, test and install the phala/TDX tool suite. See README.md.
#
#   make            tools into bin/
#   make check      every test (unit, bats, shellcheck, clang, sanitizers, fuzz smoke)
#   make demo       the main job on the built-in real sample
#   make bench      benchmarks against the named peers
#   make fuzz       libFuzzer targets into build/fuzz/
#   make fuzz-long  every fuzz target for FUZZ_TIME seconds (default 600), one after another
#   make install    PREFIX=/usr/local DESTDIR=

PREFIX  ?= /usr/local
BINDIR  ?= $(PREFIX)/bin
MANDIR  ?= $(PREFIX)/share/man/man1
DATADIR ?= $(PREFIX)/share/phala-tools

# The suite's version, printed by --version.
VERSION = 0.1.0

CC         ?= cc
PKG_CONFIG ?= pkg-config
CFLAGS     ?= -O2 -g
# Build directory and tool directory; check.sh builds variants (sanitizers,
# clang) by overriding these.
B   ?= build
BIN ?= bin

OPENSSL_CFLAGS := $(shell $(PKG_CONFIG) --cflags libssl libcrypto)
OPENSSL_LIBS   := $(shell $(PKG_CONFIG) --libs libssl libcrypto)
# libcbor (the lite measurement CBOR), zlib (image tarballs) and libpq (the
# claims on PostgreSQL), Debian's libcbor-dev, zlib1g-dev and libpq-dev.
DEP_CFLAGS := $(shell $(PKG_CONFIG) --cflags libcbor zlib libpq)
DEP_LIBS   := $(shell $(PKG_CONFIG) --libs libcbor zlib libpq)
WARNINGS = -Wall -Wextra -Werror -Wshadow -Wpointer-arith -Wstrict-prototypes \
	   -Wmissing-prototypes -Wformat=2 -Wvla -Wundef -Wcast-qual
ALL_CFLAGS = -std=c11 -D_GNU_SOURCE $(WARNINGS) -Ilib $(OPENSSL_CFLAGS) $(DEP_CFLAGS) $(CFLAGS)
LDLIBS = $(OPENSSL_LIBS) $(DEP_LIBS)

LIB_SRC   := $(wildcard lib/*.c)
LIB_OBJ   := $(LIB_SRC:%.c=$(B)/%.o)
TOOL_SRC  := $(filter-out cmd/tool.c,$(wildcard cmd/*.c))
TOOLS_C   := $(TOOL_SRC:cmd/%.c=%)
TOOLS_SH  := $(patsubst cmd/%.sh,%,$(wildcard cmd/*.sh))
TOOLS     := $(TOOLS_C) $(TOOLS_SH)
UNIT_SRC  := $(wildcard t/unit/test_*.c)
UNIT_BIN  := $(UNIT_SRC:t/unit/%.c=$(B)/unit/%)
FUZZ_SRC  := $(wildcard t/fuzz/fuzz_*.c)
HELPER_SRC := $(wildcard t/helpers/*.c)
HELPER_BIN := $(HELPER_SRC:t/helpers/%.c=$(B)/helpers/%)
MAN       := $(wildcard doc/*.1)

.PHONY: all unit helpers check demo bench fuzz fuzz-long install uninstall clean
all: $(TOOLS:%=$(BIN)/%)

$(B)/%.o: %.c $(wildcard lib/*.h) cmd/tool.h
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(B)/cmd/tool.o: cmd/tool.c cmd/tool.h $(wildcard lib/*.h) Makefile
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -DTOOLS_VERSION='"$(VERSION)"' -c -o $@ $<

$(B)/libphala.a: $(LIB_OBJ)
	rm -f $@
	$(AR) rcs $@ $^

$(BIN)/%: $(B)/cmd/%.o $(B)/cmd/tool.o $(B)/libphala.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

# Shell tools find their helpers in share/ next to bin/ (or DATADIR once installed).
$(BIN)/%: cmd/%.sh Makefile
	@mkdir -p $(@D)
	sed -e 's|@DATADIR@|$(abspath share)|' -e 's|@VERSION@|$(VERSION)|' $< > $@.tmp && chmod 755 $@.tmp && mv $@.tmp $@

unit: $(UNIT_BIN)
$(B)/unit/%: $(B)/t/unit/%.o $(B)/libphala.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

helpers: $(HELPER_BIN)
$(B)/helpers/%: $(B)/t/helpers/%.o $(B)/libphala.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

check:
	@sh t/check.sh

demo: all helpers
	@sh t/demo.sh

bench: all helpers
	@sh t/bench/run.sh

# libFuzzer targets, with ASan and UBSan, built from their own objects.
FUZZ_CFLAGS = -std=c11 -D_GNU_SOURCE -g -O1 -Ilib $(OPENSSL_CFLAGS) $(DEP_CFLAGS) -fsanitize=address,undefined
# The library is compiled once for all targets (fuzzer-no-link: coverage
# instrumentation without a second main).
FUZZ_OBJ = $(LIB_SRC:lib/%.c=build/fuzz/lib/%.o)
fuzz: $(FUZZ_SRC:t/fuzz/%.c=build/fuzz/%)
build/fuzz/lib/%.o: lib/%.c $(wildcard lib/*.h)
	@mkdir -p $(@D)
	clang $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<
build/fuzz/libphala-fuzz.a: $(FUZZ_OBJ)
	$(AR) rcs $@ $^
build/fuzz/%: t/fuzz/%.c t/fuzz/fuzz.h build/fuzz/libphala-fuzz.a
	clang $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< build/fuzz/libphala-fuzz.a $(LDLIBS)
FUZZ_TIME ?= 600
fuzz-long: fuzz
	nice t/fuzz/long.sh $(FUZZ_TIME)

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR) $(DESTDIR)$(DATADIR)
	install -m 755 $(TOOLS_C:%=$(BIN)/%) $(DESTDIR)$(BINDIR)
	for t in $(TOOLS_SH); do \
		sed -e 's|@DATADIR@|$(DATADIR)|' -e 's|@VERSION@|$(VERSION)|' cmd/$$t.sh > $(DESTDIR)$(BINDIR)/$$t && \
		chmod 755 $(DESTDIR)$(BINDIR)/$$t || exit 1; done
	$(if $(MAN),install -m 644 $(MAN) $(DESTDIR)$(MANDIR))
	cp -R share/. $(DESTDIR)$(DATADIR)/

uninstall:
	rm -f $(TOOLS:%=$(DESTDIR)$(BINDIR)/%) $(MAN:doc/%=$(DESTDIR)$(MANDIR)/%)
	rm -rf $(DESTDIR)$(DATADIR)

clean:
	rm -rf build bin
