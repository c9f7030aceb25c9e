# Makefile: builds the libraries (one per top-level directory), the four
# binaries in bin/, the tests (with ASan + UBSan) and the fuzz targets (clang).
#
#   make            release build of bin/*
#   make test       build everything and run every test (tests/run.sh); T=test_x one
#   make deps       install the Debian packages building and running need
#   make deps-test  ... and those the tests need (browser, valgrind, Docker, ...)
#   make fuzz       run every fuzz target for FUZZ_SECONDS (default 60)
#   make bench      run the benchmarks in bench/
#   make run        deps + build + `mlops up` on synthetic data (SOURCE=... TARGET=... to change)
#   make install    PREFIX=/usr/local DESTDIR=
#   make valgrind   run the C unit tests (release build) under valgrind
#   make image      the container image (image-base: its base images, by debootstrap)
#   make test-containers  build the image, run the compose stack, check deploy/k8s
#
# Objects go to build/<mode>/ where mode is release, asan or fuzz; sources
# are found by wildcard, so adding a .c file to a directory needs no edit here.

# Quiet by default; `make V=1` shows every command.
Q := $(if $(V),,@)
PREFIX ?= /usr/local
DESTDIR ?=
FUZZ_SECONDS ?= 60
PYTHON ?= /usr/bin/python3

PKGS := libczmq libzmq msgpack lmdb libmicrohttpd jansson libcrypto
# What building and running need (make deps, make run), and what only the
# tests, fuzzing and the container checks need (make deps-test): a user
# trying the stack does not pull a browser or a container engine.
DEB_PKGS := build-essential pkg-config \
    libzmq3-dev libczmq-dev libmsgpack-dev liblmdb-dev libcsv-dev \
    libmicrohttpd-dev libjansson-dev libssl-dev curl
DEB_TEST_PKGS := clang libclang-rt-14-dev \
    python3 python3-zmq python3-msgpack python3-requests python3-pytest \
    python3-pytest-rerunfailures python3-jsonschema \
    iproute2 valgrind chromium chromium-driver python3-selenium \
    docker.io docker-compose debootstrap
# kubectl (its kustomize renders deploy/k8s) and Node.js (the manifests'
# schema check) only where no such command is there already: another
# vendor's kubectl package owns /usr/bin/kubectl and would clash.
DEB_TEST_CMDS = $(if $(shell command -v kubectl),,kubernetes-client) \
    $(if $(shell command -v npm),,nodejs npm)
K8S_VALIDATE := tests/containers/k8s
IMAGE ?= mlops-c:latest

# Layers, lowest first. Each directory sees only its own headers and those of
# the layers it is allowed to use, so a forbidden arrow (the gateway including
# a broker header, proto including ml) fails to build instead of holding by
# discipline. tests/, fuzz/ and bench/ see everything.
LIB_DIRS := common proto ml workers broker gateway cli
INC_common  := common
INC_proto   := common proto
INC_ml      := common proto ml
INC_workers := common proto ml workers
INC_broker  := common proto broker
INC_gateway := common proto gateway
INC_cli     := common proto ml cli
INC_ALL     := $(LIB_DIRS)
# the include flags for a source file: by its top directory, else everything
includes_for = $(addprefix -I,$(or $(INC_$(firstword $(subst /, ,$(1)))),$(INC_ALL)))
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS = $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lcsv -lpthread -lm

WARN := -Wall -Wextra -Werror -Wshadow -Wno-missing-field-initializers
BASE_CFLAGS = -std=c11 -D_GNU_SOURCE $(WARN) -g -MMD -MP $(PKG_CFLAGS)
SAN := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer

release_CC := $(CC)
release_CFLAGS = $(BASE_CFLAGS) -O2
release_LDFLAGS :=
asan_CC := $(CC)
asan_CFLAGS = $(BASE_CFLAGS) -O1 $(SAN)
asan_LDFLAGS := $(SAN)
fuzz_CC := clang
fuzz_CFLAGS = $(BASE_CFLAGS) -O1 $(SAN) -fsanitize=fuzzer-no-link -DMLOPS_FUZZING
fuzz_LDFLAGS := $(SAN) -fsanitize=fuzzer

lib_srcs = $(filter-out $(1)/main.c,$(wildcard $(1)/*.c))
lib_objs = $(patsubst %.c,build/$(2)/%.o,$(call lib_srcs,$(1)))
libs_of = $(foreach d,$(LIB_DIRS),build/$(1)/lib$(d).a)

BIN_MAIN_broker := broker/main.c
BIN_MAIN_worker := workers/main.c
BIN_MAIN_gateway := gateway/main.c
BIN_MAIN_cli := cli/main.c
BINS := $(if $(wildcard broker/main.c),bin/mlops-broker) \
        $(if $(wildcard workers/main.c),bin/mlops-worker) \
        $(if $(wildcard gateway/main.c),bin/mlops-gateway) \
        $(if $(wildcard cli/main.c),bin/mlops)

TEST_SRCS := $(wildcard tests/test_*.c)
TEST_BINS := $(patsubst tests/%.c,build/asan/tests/%,$(TEST_SRCS))
FUZZ_SRCS := $(wildcard fuzz/fuzz_*.c)
FUZZ_BINS := $(patsubst fuzz/%.c,build/fuzz/bin/%,$(FUZZ_SRCS))
BENCH_SRCS := $(wildcard bench/bench_*.c)
# the dashboard: mlops-gateway finds them at <bin>/../share/mlops/static
STATIC_FILES := $(wildcard gateway/static/*)
BENCH_BINS := $(patsubst bench/%.c,build/release/bench/%,$(BENCH_SRCS))

.PHONY: all test test-c test-py deps deps-test image-base image test-containers run fuzz fuzz-build bench install clean valgrind check-deps
all: $(BINS)

# --- objects and libraries, per mode -------------------------------------
define MODE_RULES
build/$(1)/%.o: %.c
	@mkdir -p $$(dir $$@)
	@$$(if $$(V),,echo "  CC [$(1)] $$<")
	$$(Q)$$($(1)_CC) $$($(1)_CFLAGS) $$(call includes_for,$$<) -c $$< -o $$@
$(foreach d,$(LIB_DIRS),
build/$(1)/lib$(d).a: $$(call lib_objs,$(d),$(1))
	@mkdir -p $$(dir $$@)
	$$(Q)rm -f $$@ && ar rcs $$@ $$^
)
endef
$(eval $(call MODE_RULES,release))
$(eval $(call MODE_RULES,asan))
$(eval $(call MODE_RULES,fuzz))

# Link order: users before providers. Static libs pull only what is used.
LINK_LIBS = $(foreach d,cli gateway broker workers ml proto common,build/$(1)/lib$(d).a)

bin/mlops-broker: build/release/broker/main.o $(call libs_of,release)
	@mkdir -p bin
	$(Q)$(CC) -o $@ $< $(call LINK_LIBS,release) $(PKG_LIBS)
bin/mlops-worker: build/release/workers/main.o $(call libs_of,release)
	@mkdir -p bin
	$(Q)$(CC) -o $@ $< $(call LINK_LIBS,release) $(PKG_LIBS)
bin/mlops-gateway: build/release/gateway/main.o $(call libs_of,release)
	@mkdir -p bin
	$(Q)$(CC) -o $@ $< $(call LINK_LIBS,release) $(PKG_LIBS)
bin/mlops: build/release/cli/main.o $(call libs_of,release)
	@mkdir -p bin
	$(Q)$(CC) -o $@ $< $(call LINK_LIBS,release) $(PKG_LIBS)

build/asan/tests/%: build/asan/tests/%.o $(call libs_of,asan)
	$(Q)$(CC) $(asan_LDFLAGS) -o $@ $< $(call LINK_LIBS,asan) $(PKG_LIBS)

build/fuzz/bin/%: build/fuzz/fuzz/%.o $(call libs_of,fuzz)
	@mkdir -p $(dir $@)
	$(Q)clang $(fuzz_LDFLAGS) -o $@ $< $(call LINK_LIBS,fuzz) $(PKG_LIBS)

build/release/bench/%: build/release/bench/%.o $(call libs_of,release)
	$(Q)$(CC) -o $@ $< $(call LINK_LIBS,release) $(PKG_LIBS)

# The include flags a directory's sources compile with (tests/test_layers.py
# compiles probes with them): `make -s includes-gateway`.
includes-%:
	@echo $(call includes_for,$*/x.c)

# --- tests ----------------------------------------------------------------
# Unit tests run with ASan + UBSan; multi-process tests drive the release
# binaries in bin/ (tests/run.sh says which is which).
# `make test T=test_msg` runs one C test binary, `T=test_api.py` one Python
# file (`build/asan/tests/test_msg -t NAME` runs one C test function).
T_C := $(if $(T),$(patsubst %,build/asan/tests/%,$(filter-out %.py,$(T))),$(TEST_BINS))
T_PY := $(if $(T),$(patsubst %,tests/%,$(filter %.py,$(T))),tests/test_*.py)
test: all $(T_C)
	@MLOPS_BIN=$(CURDIR)/bin PYTHON=$(PYTHON) PY_TESTS="$(T_PY)" tests/run.sh $(T_C)

valgrind: $(patsubst tests/%.c,build/release/tests/%,$(TEST_SRCS))
	@for t in $^; do valgrind -q --error-exitcode=99 --leak-check=full $$t >/dev/null || exit 1; done; echo "valgrind: clean"
build/release/tests/%: build/release/tests/%.o $(call libs_of,release)
	$(Q)$(CC) -o $@ $< $(call LINK_LIBS,release) $(PKG_LIBS)

# --- fuzzing --------------------------------------------------------------
fuzz-build: $(FUZZ_BINS)
fuzz: fuzz-build
	@FUZZ_SECONDS=$(FUZZ_SECONDS) fuzz/run.sh $(FUZZ_BINS)

# --- benchmarks -----------------------------------------------------------
bench: all $(BENCH_BINS)
	@bench/run.sh

# --- dependencies ---------------------------------------------------------
# $(call apt_install,PACKAGES,TARGET): installs only the packages that are
# missing; does nothing (and needs no root) when all are there.
define apt_install
	@missing=$$(for p in $(1); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || echo $$p; done); \
	if [ -z "$$missing" ]; then echo "$(2): all installed"; exit 0; fi; \
	echo "$(2): installing$$(echo $$missing | sed 's/^/ /')"; \
	SUDO=; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing
endef
deps:
	$(call apt_install,$(DEB_PKGS),deps)

# the tests' packages, then the manifests' validator (versions pinned by its
# package-lock.json) when it is not installed yet
deps-test: deps
	$(call apt_install,$(DEB_TEST_PKGS) $(DEB_TEST_CMDS),deps-test)
	@[ -d $(K8S_VALIDATE)/node_modules/kubernetes-models ] || \
	    (cd $(K8S_VALIDATE) && npm ci --no-audit --no-fund --loglevel=error)

# --- containers (README, Containers) -----------------------------------------
# debian:bookworm and debian:bookworm-slim from debootstrap, where no image
# registry is reachable (nothing when both images exist); the image; the
# container and Kubernetes checks (tests/containers/run.sh, not in `make test`)
image-base:
	@deploy/docker/base-image.sh
image: image-base
	docker build --network host -t $(IMAGE) .
test-containers:
	@PYTHON=$(PYTHON) tests/containers/run.sh

run: deps all
	bin/mlops up $(if $(SOURCE),--source $(SOURCE)) $(if $(TARGET),--target $(TARGET))

install: all
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 0755 $(BINS) $(DESTDIR)$(PREFIX)/bin/
	install -d $(DESTDIR)$(PREFIX)/share/mlops/static
	install -m 0644 $(STATIC_FILES) $(DESTDIR)$(PREFIX)/share/mlops/static/

clean:
	rm -rf build bin

-include $(shell find build -name '*.d' 2>/dev/null)
.SECONDARY:
