# workspace-agent: `make run` starts the echo agent locally, `make test` runs
# every test. See README.md.

SHELL := /bin/bash
CARGO ?= cargo
BIN := workspace-agent
IMAGE ?= workspace-agent:local
TARGET_GNU := x86_64-unknown-linux-gnu
TARGET_MUSL := x86_64-unknown-linux-musl
STATIC_OUT := target/static/$(BIN)

# Local defaults for `make run` only: the binary itself never defaults
# WORKSPACE_ID. Override any of them: `make run PORT=9000`.
WORKSPACE_ID ?= local-dev
PORT ?= 8000
CONFIGS_DIR ?= $(CURDIR)/.configs
REGISTER ?= false
RUST_LOG ?= info

.PHONY: deps run build release static static-arm64 static-glibc static-arm64-glibc image image-arm64 image-glibc mock-image test test-rust test-py test-container test-arm64 lint fmt readme-config bench bench-allocs bench-static fuzz soak clean

# Our patch on tiny_http, applied to the crate cargo downloads into the
# git-ignored .patched/ (Cargo.toml's [patch.crates-io] points there). Cheap
# when already done. After editing .patched/: scripts/patch-deps.sh save.
deps:
	@bash scripts/patch-deps.sh

run: release
	@mkdir -p "$(CONFIGS_DIR)"
	WORKSPACE_ID="$(WORKSPACE_ID)" PORT="$(PORT)" CONFIGS_DIR="$(CONFIGS_DIR)" \
	REGISTER="$(REGISTER)" RUST_LOG="$(RUST_LOG)" ./target/release/$(BIN)

build: deps
	$(CARGO) build --locked

release: deps
	$(CARGO) build --locked --release

# ---------------------------------------------------------------------------
# Static builds. `make static` (and `make image`) is x86_64 musl, fully static;
# `make static-arm64` (and `make image-arm64`) the same for aarch64. Both use
# Debian's second Rust toolchain (rustc-web: /usr/bin/cargo) with
# -Zbuild-std, since rustup cannot download musl targets here; .ci/run
# installs the packages (STATIC_PKGS). `make static-glibc` is the fallback
# for machines without them: rustup's toolchain, glibc with +crt-static.
# Every static target fails unless the result is static: `file` must say
# "statically linked" and `readelf -l` must show no INTERP (ldd cannot tell).
TARGET_ARM64 := aarch64-unknown-linux-musl
TARGET_ARM64_GNU := aarch64-unknown-linux-gnu
STATIC_GLIBC_OUT := target/static-glibc/$(BIN)
STATIC_ARM64_OUT := target/static-arm64/$(BIN)
STATIC_ARM64_GLIBC_OUT := target/static-arm64-glibc/$(BIN)
IMAGE_ARM64 ?= workspace-agent:local-arm64
# The allocator of the musl builds (a Cargo feature; see BENCHMARKS.md).
# `make static ALLOC=` builds with musl's own malloc.
ALLOC ?= mimalloc
# Debian's toolchain, its own target dir (the two toolchains must not share
# build artefacts), RUSTC_BOOTSTRAP for -Zbuild-std on the stable compiler.
DEB_CARGO := env PATH=/usr/bin:$$PATH RUSTC_BOOTSTRAP=1 /usr/bin/cargo
DEB_TARGET_DIR := target/debian
MUSL_WORK := target/musl-tools
ARM64_MUSL_GCC := $(MUSL_WORK)/aarch64-musl-gcc
ARM64_UNWIND_DIR := $(MUSL_WORK)/arm64-unwind/usr/lib/llvm-14/lib
STATIC_PKGS := rustc-web cargo-web rust-web-src musl-tools musl-dev libunwind-14-dev file binutils
STATIC_ARM64_PKGS := gcc-aarch64-linux-gnu libc6-dev-arm64-cross musl-dev:arm64 qemu-user-static
# rustc links with musl-gcc itself (link-self-contained=no: the crt objects
# and libunwind of rustup's musl target are not here), statically and not as
# a PIE (otherwise the result asks for /lib/ld-musl-*.so.1). -lgcc: helpers
# the C allocator's code calls (__popcountdi2) that Rust's builtins lack.
MUSL_RUSTC_ARGS := -C relocation-model=static -C link-arg=-static -C link-arg=-lgcc

define check_static
	@f=$(1); \
	if ! file -b "$$f" | grep -Eq 'statically linked|static-pie linked'; then echo "static: $$f is NOT statically linked: $$(file -b $$f)"; exit 1; fi; \
	if readelf -lW "$$f" | grep -q INTERP; then echo "static: $$f has an INTERP (a dynamic loader)"; exit 1; fi; \
	if readelf -dW "$$f" 2>/dev/null | grep -q NEEDED; then echo "static: $$f needs shared libraries"; exit 1; fi; \
	echo "static: $$f $$(stat -c %s $$f) bytes,$$(file -b $$f | cut -d, -f2), static, no INTERP"
endef

define need_tools
	@missing=""; for t in $(1); do [[ -e $$t ]] || missing="$$missing $$t"; done; \
	if [[ -n "$$missing" ]]; then \
		echo "static: missing$$missing"; \
		echo "  install: dpkg --add-architecture arm64 && apt-get update && apt-get install $(2)"; \
		echo "  (or build the glibc fallback: make static-glibc / make image-glibc)"; exit 1; \
	fi
endef

# Debian's libunwind.a was built against glibc with fortify, so it calls
# __fprintf_chk, which musl lacks: a tiny C shim supplies it.
$(MUSL_WORK)/fortify-shim-x86_64.o: build/fortify-shim.c
	@mkdir -p $(MUSL_WORK)
	musl-gcc -O2 -c $< -o $@

$(MUSL_WORK)/fortify-shim-aarch64.o: build/fortify-shim.c $(ARM64_MUSL_GCC)
	$(ARM64_MUSL_GCC) -O2 -c $< -o $@

# musl-gcc for aarch64: the cross gcc with musl-dev:arm64's specs file.
$(ARM64_MUSL_GCC):
	@mkdir -p $(MUSL_WORK)
	printf '#!/bin/sh\nexec aarch64-linux-gnu-gcc "$$@" -specs /usr/lib/aarch64-linux-musl/musl-gcc.specs\n' > $@
	chmod +x $@

# LLVM's libunwind for aarch64: libunwind-14-dev:arm64 conflicts with the
# amd64 package, so its .deb is downloaded and unpacked here instead.
$(ARM64_UNWIND_DIR)/libunwind.a:
	@rm -rf $(MUSL_WORK)/arm64-unwind && mkdir -p $(MUSL_WORK)/arm64-unwind
	cd $(MUSL_WORK)/arm64-unwind && apt-get download -q libunwind-14-dev:arm64 && dpkg-deb -x libunwind-14-dev_*_arm64.deb .
	@test -f $@

static: deps
	$(call need_tools,/usr/bin/cargo /usr/lib/rustlib/src/rust/library/std /usr/bin/musl-gcc /usr/lib/x86_64-linux-musl/libc.a /usr/lib/llvm-14/lib/libunwind.a,$(STATIC_PKGS))
	@$(MAKE) -s $(MUSL_WORK)/fortify-shim-x86_64.o
	@echo "static: $(TARGET_MUSL), allocator: $(or $(ALLOC),musl malloc)"
	CARGO_TARGET_X86_64_UNKNOWN_LINUX_MUSL_LINKER=musl-gcc CC_x86_64_unknown_linux_musl=musl-gcc \
	RUSTFLAGS="-C link-self-contained=no -L native=/usr/lib/llvm-14/lib" \
	$(DEB_CARGO) rustc --locked --release -Zbuild-std=std,panic_unwind --target $(TARGET_MUSL) \
		--target-dir $(DEB_TARGET_DIR) --bin $(BIN) $(if $(ALLOC),--features $(ALLOC)) -- \
		$(MUSL_RUSTC_ARGS) -C link-arg=$(CURDIR)/$(MUSL_WORK)/fortify-shim-x86_64.o
	@mkdir -p $(dir $(STATIC_OUT)) && cp $(DEB_TARGET_DIR)/$(TARGET_MUSL)/release/$(BIN) $(STATIC_OUT)
	$(call check_static,$(STATIC_OUT))

static-arm64: deps
	$(call need_tools,/usr/bin/cargo /usr/lib/rustlib/src/rust/library/std /usr/bin/aarch64-linux-gnu-gcc /usr/lib/aarch64-linux-musl/libc.a,$(STATIC_PKGS) $(STATIC_ARM64_PKGS))
	@$(MAKE) -s $(MUSL_WORK)/fortify-shim-aarch64.o $(ARM64_UNWIND_DIR)/libunwind.a
	@echo "static-arm64: $(TARGET_ARM64), allocator: $(or $(ALLOC),musl malloc)"
	CARGO_TARGET_AARCH64_UNKNOWN_LINUX_MUSL_LINKER=$(CURDIR)/$(ARM64_MUSL_GCC) CC_aarch64_unknown_linux_musl=$(CURDIR)/$(ARM64_MUSL_GCC) \
	RUSTFLAGS="-C link-self-contained=no -L native=$(CURDIR)/$(ARM64_UNWIND_DIR)" \
	$(DEB_CARGO) rustc --locked --release -Zbuild-std=std,panic_unwind --target $(TARGET_ARM64) \
		--target-dir $(DEB_TARGET_DIR) --bin $(BIN) $(if $(ALLOC),--features $(ALLOC)) -- \
		$(MUSL_RUSTC_ARGS) -C link-arg=$(CURDIR)/$(MUSL_WORK)/fortify-shim-aarch64.o
	@mkdir -p $(dir $(STATIC_ARM64_OUT)) && cp $(DEB_TARGET_DIR)/$(TARGET_ARM64)/release/$(BIN) $(STATIC_ARM64_OUT)
	$(call check_static,$(STATIC_ARM64_OUT))
	@file -b $(STATIC_ARM64_OUT) | grep -q aarch64 || { echo "static-arm64: not an aarch64 binary"; exit 1; }

# Fallbacks without the musl pieces: glibc with +crt-static (glibc's NSS and
# locale code make it ~1 MB larger; getaddrinfo still works for /etc/hosts
# and DNS in a scratch image).
static-glibc: deps
	RUSTFLAGS="-C target-feature=+crt-static" $(CARGO) build --locked --release --target $(TARGET_GNU)
	@mkdir -p $(dir $(STATIC_GLIBC_OUT)) && cp target/$(TARGET_GNU)/release/$(BIN) $(STATIC_GLIBC_OUT)
	$(call check_static,$(STATIC_GLIBC_OUT))

# aarch64 glibc fallback: Debian's prebuilt aarch64 std (libstd-rust-web-dev:arm64).
static-arm64-glibc: deps
	$(call need_tools,/usr/bin/cargo /usr/bin/aarch64-linux-gnu-gcc /usr/lib/rustlib/$(TARGET_ARM64_GNU),$(STATIC_PKGS) gcc-aarch64-linux-gnu libc6-dev-arm64-cross libstd-rust-web-dev:arm64)
	CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc RUSTFLAGS="-C target-feature=+crt-static" \
	$(DEB_CARGO) build --locked --release --target $(TARGET_ARM64_GNU) --target-dir $(DEB_TARGET_DIR) --bin $(BIN)
	@mkdir -p $(dir $(STATIC_ARM64_GLIBC_OUT)) && cp $(DEB_TARGET_DIR)/$(TARGET_ARM64_GNU)/release/$(BIN) $(STATIC_ARM64_GLIBC_OUT)
	$(call check_static,$(STATIC_ARM64_GLIBC_OUT))

# The build context is staged in target/image-root-<arch> so only the files
# the Dockerfile copies are sent to the daemon. FROM scratch: nothing is
# pulled and nothing runs, so the arm64 image builds here too (it cannot run
# here: no binfmt_misc). HEALTHCHECK --start-interval needs Docker Engine 25
# (API 1.44); an older engine's builder rejects the flag, so for it the
# staged Dockerfile gets the pre-25 form (see Dockerfile.scratch). --no-cache:
# the 20.10 builder would reuse an amd64 layer for arm64 (a cheap rebuild).
IMAGE_ROOT := target/image-root
define build_image # binary, platform, tag
	rm -rf $(IMAGE_ROOT)-$(2) && mkdir -p $(IMAGE_ROOT)-$(2)/etc $(IMAGE_ROOT)-$(2)/configs
	cp $(1) $(IMAGE_ROOT)-$(2)/workspace-agent
	cp docker/passwd docker/group $(IMAGE_ROOT)-$(2)/etc/
	@api=$$(docker version --format '{{.Server.APIVersion}}'); \
	if printf '%s\n' 1.44 "$$api" | sort -V -C; then cp Dockerfile.scratch $(IMAGE_ROOT)-$(2)/Dockerfile; \
	else echo "image: Docker Engine API $$api has no HEALTHCHECK --start-interval (Engine 25+): using the pre-25 health timing"; \
		sed -e '/^HEALTHCHECK /s/--interval=[^ ]* .*--retries=[0-9]*/$(HEALTH_PRE25)/' Dockerfile.scratch > $(IMAGE_ROOT)-$(2)/Dockerfile; fi
	docker build -q --no-cache --platform linux/$(2) --build-arg VERSION=$$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1) -t $(3) $(IMAGE_ROOT)-$(2)
	@docker image inspect $(3) --format 'image $(3): {{.Os}}/{{.Architecture}}, {{.Size}} bytes, health every {{.Config.Healthcheck.Interval}}'
endef
# What engines before 25 get: a check every 2 s, so a new container is still
# healthy ~2 s after start (a check costs ~2 ms of CPU: 0.1 % of a core).
HEALTH_PRE25 := --interval=2s --timeout=3s --start-period=1s --retries=3

image: static
	$(call build_image,$(STATIC_OUT),amd64,$(IMAGE))

image-arm64: static-arm64
	$(call build_image,$(STATIC_ARM64_OUT),arm64,$(IMAGE_ARM64))

image-glibc: static-glibc
	$(call build_image,$(STATIC_GLIBC_OUT),amd64,$(IMAGE))

# The mock platform the container tests run next to the agent.
MOCK_IMAGE ?= workspace-agent-mock-platform:test
mock-image: deps
	RUSTFLAGS="-C target-feature=+crt-static" $(CARGO) build --locked --release --example mock_platform --target $(TARGET_GNU)
	rm -rf target/mock-root && mkdir -p target/mock-root
	cp target/$(TARGET_GNU)/release/examples/mock_platform target/mock-root/
	printf 'FROM scratch\nCOPY mock_platform /mock_platform\nEXPOSE 8080\nENTRYPOINT ["/mock_platform"]\n' > target/mock-root/Dockerfile
	docker build -q -t $(MOCK_IMAGE) target/mock-root

# Every test: Rust unit and integration tests, the Python interop tests with
# the official a2a-sdk client, and the container tests (whenever Docker is
# available; under CI=true a missing Docker fails).
test: test-rust test-py test-container test-arm64

test-rust: deps
	$(CARGO) test --locked --all-targets
	$(CARGO) test --manifest-path .patched/tiny_http/Cargo.toml --lib --target-dir target/tiny_http

test-py: build
	bash tests/py/run.sh

test-container:
	bash tests/container/run.sh

# The aarch64 musl binary under qemu-aarch64-static, and the arm64 image by
# inspection (skipped without qemu, except under CI=true).
test-arm64:
	bash tests/container/run-arm64.sh

# rustfmt leaves a line it cannot fit within 100 columns as it is and still
# passes `--check`; error_on_line_overflow (honoured by stable rustfmt when
# given on the command line) makes that an error. Long string literals are
# exempt. scripts/long-fns.sh fails on a function of 80 lines or more.
lint: deps
	$(CARGO) fmt --check -- --config error_on_line_overflow=true
	$(CARGO) clippy --locked --all-targets -- -D warnings
	bash scripts/long-fns.sh

fmt: deps
	$(CARGO) fmt

# The README's configuration table, rewritten from the table in
# src/config.rs (tests/readme_config.rs fails while they differ).
readme-config: deps
	UPDATE_README=1 $(CARGO) test --locked --test readme_config

# Three servers side by side (BENCHMARKS.md); e.g.
# `make bench BENCH_ARGS="--quick --servers workspace-agent,a2a-rs"`.
bench: release static
	bash bench/run.sh $(BENCH_ARGS)

# glibc-static vs musl vs musl + mimalloc vs musl + jemalloc, one run
# (BENCHMARKS.md, "Static builds"); ends with the default build in place.
BENCH_STATIC := target/bench-static
# Heap allocations per request on the real request path (counting
# allocator over an in-memory connection); numbers in BENCHMARKS.md.
bench-allocs: deps
	$(CARGO) run --locked --release --example alloc_count

bench-static: deps
	$(MAKE) static-glibc
	mkdir -p $(BENCH_STATIC)
	$(MAKE) static ALLOC= && cp $(STATIC_OUT) $(BENCH_STATIC)/musl
	$(MAKE) static ALLOC=tikv-jemallocator && cp $(STATIC_OUT) $(BENCH_STATIC)/musl-jemalloc
	$(MAKE) image && cp $(STATIC_OUT) $(BENCH_STATIC)/musl-$(ALLOC)
	python3 bench/static_compare.py glibc-static=$(STATIC_GLIBC_OUT) musl=$(BENCH_STATIC)/musl \
		musl+$(ALLOC)=$(BENCH_STATIC)/musl-$(ALLOC) musl+jemalloc=$(BENCH_STATIC)/musl-jemalloc

fuzz: deps
	bash fuzz/run.sh $${FUZZ_SECS:-60}

soak: release
	python3 bench/soak.py $${SOAK_SECS:-3600}

clean:
	$(CARGO) clean
