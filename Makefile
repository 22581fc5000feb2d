# sami: state migration for middleboxes over YANG / NETCONF / gNMI.
# `make test` is the README's test command; `.ci/run` runs it plus the peer checks.

GO        ?= go
PKGS      ?= ./...
FUZZTIME  ?= 20s
BIN       := bin

.PHONY: all demo peers build test test-short generate check-generate lint interop fuzz bench yanglint tools clean

all: build

## build: compile every package, and the commands under cmd/ into bin/.
build:
	$(GO) build $(PKGS)
	@if ls cmd/*/main.go >/dev/null 2>&1; then $(GO) build -o $(BIN)/ ./cmd/...; fi

## demo: build sami and run its demo: two simulated firewalls on loopback, a VM's state migrated with live
## progress and checked field by field (no root, no setup; DEMOFLAGS="--sessions 10000 --planned" to vary it).
DEMOFLAGS ?=
demo:
	$(GO) build -o $(BIN)/sami ./cmd/sami
	./$(BIN)/sami demo $(DEMOFLAGS)

## peers: install the third-party peers the interop tests use (root + apt), if missing.
peers:
	@bash .ci/install-peers

## test: unit, golden, round-trip and interop tests against the real peers, with -race.
test: peers
	$(GO) vet $(PKGS)
	$(GO) test -race -count=1 $(PKGS)

test-short:
	$(GO) test -short -count=1 $(PKGS)

## generate: regenerate the ygot structs in generated/ from yang/.
generate:
	$(GO) generate ./generated/...

## check-generate: fail when generated/ differs from what `make generate` produces.
check-generate: generate
	@git diff --exit-code -- generated/ || { echo "generated/ is stale: run 'make generate' and commit"; exit 1; }
	@test -z "$$(git status --porcelain -- generated/)" || { git status --porcelain -- generated/; echo "untracked generated files"; exit 1; }

## yanglint: the model must be clean under libyang's yanglint.
yanglint:
	yanglint yang/*.yang

## interop: tests against real third-party peers; they fail (not skip) when SAMI_REQUIRE_PEERS=1 and a peer is missing.
interop: peers
	SAMI_REQUIRE_PEERS=1 $(GO) test -race -count=1 -run 'Interop' $(PKGS)

## fuzz: run every fuzz target for FUZZTIME.
fuzz:
	GO=$(GO) FUZZTIME=$(FUZZTIME) .ci/fuzz

bench:
	$(GO) test -run '^$$' -bench . -benchmem $(PKGS)

lint:
	@test -z "$$(gofmt -s -l $$(git ls-files '*.go'))" || { gofmt -s -l $$(git ls-files '*.go'); echo "gofmt needed"; exit 1; }
	$(GO) vet $(PKGS)
	$(GO) tool staticcheck $(PKGS)
	$(GO) mod tidy -diff

clean:
	rm -rf $(BIN)
