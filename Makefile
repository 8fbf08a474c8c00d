# Inclavare: build, test, demo and benchmarks. Needs only Go and gcc
# (`make generate` also needs protoc, which it installs).

GO      ?= go
BIN     := bin
PLUGDIR := $(BIN)/plugins
GOBIN   := $(shell $(GO) env GOPATH)/bin
# Each package built into bin/ (commands) and bin/plugins/ (plugin binaries).
CMDS    := ./samples/rats-tls-server ./samples/rats-tls-client ./cmd/rats-tls-manifest ./shelter/cmd/shelter ./inclavared/cmd/inclavared \
           ./runtime/cmd/rune ./runtime/cmd/runelet
# runelet-wasm runs on root filesystems without a libc: built static.
STATIC  := ./runtime/cmd/runelet-wasm
# The skeleton PAL, one shared object per PAL API version.
PAL_CFLAGS := -std=gnu11 -O2 -Wall -Wextra -Werror -fPIC -shared -fvisibility=hidden -pthread
PAL_SRC    := samples/pal-skeleton/skeleton.c samples/pal-skeleton/sha256.c
PLUGINS := ./cmd/plugins/... ./samples/rats-tls-attester-sample
# make test must stay under 20 minutes on 2 cores.
TEST_TIMEOUT ?= 15m
BENCH_COUNT  ?= 6

.PHONY: all build test demo demo-container demo-ratstls bench fuzz generate clean

all: build

build:
	@mkdir -p $(PLUGDIR)
	$(GO) build -trimpath -o $(BIN)/ $(CMDS)
	CGO_ENABLED=0 $(GO) build -trimpath -o $(BIN)/ $(STATIC)
	for v in 1 2 3; do gcc $(PAL_CFLAGS) -DPAL_VERSION=$$v -o $(BIN)/liberpal-skeleton-v$$v.so $(PAL_SRC) || exit 1; done
	$(GO) build -trimpath -o $(PLUGDIR)/ $(PLUGINS)
	$(BIN)/rats-tls-manifest $(PLUGDIR)

test: build
	$(GO) vet ./...
	$(GO) test -count=1 -timeout $(TEST_TIMEOUT) ./...
	# Every benchmark once, so that none rots between make bench runs.
	$(GO) test -count=1 -timeout $(TEST_TIMEOUT) -run '^$$' -bench . -benchtime 1x ./... > $(BIN)/bench-check.txt 2>&1 \
		|| { grep -B2 -A20 -E '^(--- FAIL|FAIL|panic)' $(BIN)/bench-check.txt; exit 1; }

demo: build
	./scripts/demo.sh

# The confidential container: rune serves a WASI module as a simulated
# enclave; shelter attests it through inclavared (needs root).
demo-container: build
	./scripts/demo-container.sh

# The Rats-TLS samples alone: mutual attestation, plugins, a refusal.
demo-ratstls: build
	./scripts/demo-ratstls.sh

bench: build
	./scripts/bench.sh $(BENCH_COUNT)

# A short coverage-guided run of every fuzz target (the seed corpora already
# run in make test).
fuzz:
	./scripts/fuzz.sh 30s

generate:
	command -v protoc >/dev/null || (apt-get update && apt-get install -y protobuf-compiler)
	$(GO) install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.11
	$(GO) install google.golang.org/grpc/cmd/protoc-gen-go-grpc@v1.6.0
	PATH="$(GOBIN):$$PATH" $(GO) generate ./...

clean:
	rm -rf $(BIN)
