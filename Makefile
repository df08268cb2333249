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

.PHONY: deps run build release static image mock-image test test-rust test-py test-container lint fmt bench fuzz soak clean

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

# A fully static binary: musl where its target is installed, otherwise glibc
# with crt-static. Fails unless the result really is static.
static: deps
	@if rustup target list --installed 2>/dev/null | grep -qx $(TARGET_MUSL); then \
		echo "static: building for $(TARGET_MUSL)"; \
		$(CARGO) build --locked --release --target $(TARGET_MUSL); \
		src=target/$(TARGET_MUSL)/release/$(BIN); \
	else \
		echo "static: musl target not installed; building $(TARGET_GNU) with +crt-static"; \
		RUSTFLAGS="-C target-feature=+crt-static" $(CARGO) build --locked --release --target $(TARGET_GNU); \
		src=target/$(TARGET_GNU)/release/$(BIN); \
	fi; \
	mkdir -p target/static && cp "$$src" $(STATIC_OUT); \
	if ! file $(STATIC_OUT) | grep -Eq 'statically linked|static-pie linked'; then \
		echo "static: $(STATIC_OUT) is NOT static:"; file $(STATIC_OUT); exit 1; \
	fi; \
	if ldd $(STATIC_OUT) 2>&1 | grep -q '=>'; then echo "static: ldd lists shared libraries"; exit 1; fi; \
	echo "static: $(STATIC_OUT) $$(stat -c %s $(STATIC_OUT)) bytes, static"

# The build context is staged in target/image-root so only the files the
# Dockerfile copies are sent to the daemon.
IMAGE_ROOT := target/image-root
image: static
	rm -rf $(IMAGE_ROOT) && mkdir -p $(IMAGE_ROOT)/etc $(IMAGE_ROOT)/configs
	cp $(STATIC_OUT) $(IMAGE_ROOT)/workspace-agent
	cp docker/passwd docker/group $(IMAGE_ROOT)/etc/
	docker build -q -f Dockerfile.scratch --build-arg VERSION=$$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1) -t $(IMAGE) $(IMAGE_ROOT)
	@docker image inspect $(IMAGE) --format 'image $(IMAGE): {{.Size}} bytes'

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
test: test-rust test-py test-container

test-rust: deps
	$(CARGO) test --locked --all-targets
	$(CARGO) test --manifest-path .patched/tiny_http/Cargo.toml --lib --target-dir target/tiny_http

test-py: build
	bash tests/py/run.sh

test-container:
	bash tests/container/run.sh

lint: deps
	$(CARGO) fmt --check
	$(CARGO) clippy --locked --all-targets -- -D warnings

fmt: deps
	$(CARGO) fmt

bench: release static
	bash bench/run.sh

fuzz: deps
	bash fuzz/run.sh $${FUZZ_SECS:-60}

soak: release
	python3 bench/soak.py $${SOAK_SECS:-3600}

clean:
	$(CARGO) clean
