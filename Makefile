# Tentacle: build, test, run and measure. Every target works from a fresh
# clone on a Debian machine with Go; `make test` is what CI runs.

GO        ?= go
BIN       := bin
PROGRAMS  := tentacle_server tentacle_client tentacle_serverd
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo 0.0.0-dev)
LDFLAGS   := -s -w -X main.version=$(VERSION)
# As root the server drops to RUN_USER, who must reach RUN_DIR: when the
# clone sits in a private directory (/root, say), serve from /var/tmp.
RUN_DIR   ?= $(shell if [ "$$(id -u)" != 0 ] || setpriv --reuid=nobody --regid=nogroup --clear-groups test -x '$(CURDIR)' 2>/dev/null; \
               then echo '$(CURDIR)/run/data_in'; else echo /var/tmp/tentacle-run/data_in; fi)
RUN_PORT  ?= 41121
RUN_USER  ?= nobody
PANDORA_FILTERS := .*\.conf:conf;.*\.md5:md5;.*\.zip:collections;.*\.lock:trans;.*\.rcmd:commands

# package: the .deb and .rpm (see packaging/). PKG_VERSION empty means
# "from git" (packaging/mkpkg/version.go: v1.2.3 -> 1.2.3, no tag ->
# 0.1.0~git<date>.<sha>, no git -> 0.1.0); PKG_ARCH is Go's name.
PKG_PROGRAMS := tentacle_server tentacle_client tentacle_serverd
PKG_MANPAGES := man/tentacle_server.1 man/tentacle_client.1 man/tentacle_serverd.8
PKG_VERSION  ?=
PKG_ARCH     ?= amd64
PKG_OUT      ?= dist
PKG_BUILD    := $(PKG_OUT)/.pkgbuild

.PHONY: all build test test-system fuzz run bench bench-fs cross lint clean package

all: build

build:
	@mkdir -p $(BIN)
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/ $(addprefix ./cmd/,$(PROGRAMS))

# lint: formatting, vet (for Linux and for the Windows build), staticcheck.
lint:
	@bad=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$bad" ]; then echo "gofmt would change: $$bad"; exit 1; fi
	$(GO) vet ./...
	GOOS=windows GOARCH=amd64 $(GO) vet ./...
	$(GO) tool staticcheck ./...

# packaging/mkpkg is a module of its own (nfpm's dependencies stay out of
# go.mod): vet, staticcheck (the main module's tool) and its tests there.
test: build lint
	$(GO) test -race -count=1 ./...
	cd packaging/mkpkg && $(GO) vet ./... && $$($(GO) -C $(CURDIR) tool -n staticcheck) ./... \
	  && $(GO) test -race -count=1 ./...

# fuzz: each fuzz target for FUZZTIME, one after another. `make test` only
# runs their seeds and testdata/fuzz/<Target>/ corpora; this looks for new
# inputs. A failing one is written to that directory: commit it with the
# fix, so that `make test` keeps checking it. Targets are package:Name.
# Each new input is shrunk for at most FUZZMINIMIZETIME: Go's default, 60s,
# lets shrinking a long input stall both workers for a whole short run.
FUZZTIME         ?= 30s
FUZZMINIMIZETIME ?= 5s
FUZZ_TARGETS := protocol:FuzzParseCommand protocol:FuzzUnzipFirst tlsconfig:FuzzDecryptPKCS8 \
                hostsaccess:FuzzParse envfile:FuzzParseEnvFile envfile:FuzzSplitShellWords options:FuzzGetopt \
                protocol:FuzzProxyHeader
fuzz:
	@for t in $(FUZZ_TARGETS); do \
	  pkg=$${t%%:*}; name=$${t#*:}; echo "== $$name in ./$$pkg for $(FUZZTIME)"; \
	  $(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINIMIZETIME) \
	    ./$$pkg || exit 1; \
	done

# test-system: the packages under a real systemd and a real SysV init, each
# booted in a systemd-nspawn container (root; see systemtest/). It installs
# what it needs; the Debian trees are made once and kept in
# /var/cache/tentacle-test.
SYSTEM_TOOLS := systemd-nspawn:systemd-container debootstrap:debootstrap nsenter:util-linux
test-system:
	@need=; for t in $(SYSTEM_TOOLS); do command -v $${t%%:*} >/dev/null || need="$$need $${t#*:}"; done; \
	  if [ -n "$$need" ]; then \
	    if [ "$$(id -u)" != 0 ]; then echo "test-system needs root (and:$$need)"; exit 1; fi; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$need; \
	  fi
	$(GO) test -tags system -count=1 -timeout 40m -v ./systemtest/

# run: serve on port 41121 from ./run/data_in with Pandora's filters. As root
# the server drops to $(RUN_USER), so the directory is handed to that user.
run: build
	@mkdir -p $(RUN_DIR)/conf $(RUN_DIR)/md5 $(RUN_DIR)/collections $(RUN_DIR)/trans $(RUN_DIR)/commands
	@if [ "$$(id -u)" = 0 ]; then chown -R $(RUN_USER) $(RUN_DIR); fi
	@echo "Serving $(RUN_DIR) on port $(RUN_PORT)"
	$(BIN)/tentacle_server -s $(RUN_DIR) -p $(RUN_PORT) -v -i '$(PANDORA_FILTERS)' \
	  $$( [ "$$(id -u)" = 0 ] && echo -U $(RUN_USER) )

# bench: the load generator against bin/tentacle_server; BENCH_FLAGS adds
# options, e.g. BENCH_FLAGS='-perl /path/to/tentacle_server -o report.md'.
BENCH_FLAGS ?=
bench: build
	$(GO) run ./cmd/tentacle_bench $(BENCH_FLAGS)

# bench-fs: the same on fresh journaled ext4 and XFS images, the file
# systems of production servers, then on /var/tmp; it prints the judged
# small-file cells last (root; see cmd/tentacle_bench/filesystems.sh).
bench-fs: build
	cmd/tentacle_bench/filesystems.sh $(BENCH_FLAGS)

cross:
	@mkdir -p dist
	for target in linux/amd64 linux/arm64 windows/amd64; do \
	  os=$${target%/*}; arch=$${target#*/}; ext=; [ $$os = windows ] && ext=.exe; \
	  for p in $(PROGRAMS); do \
	    CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch $(GO) build -trimpath -ldflags '$(LDFLAGS)' \
	      -o dist/$$os-$$arch/$$p$$ext ./cmd/$$p || exit 1; \
	  done; \
	done

# package: static linux binaries, gzipped manual pages, then packaging/mkpkg
# (a module of its own, built for this machine and run from here, the root
# its yaml's paths refer to) writes $(PKG_OUT)/tentacle_<version>_<arch>.deb
# and $(PKG_OUT)/tentacle-<version>-1.<arch>.rpm and prints their paths.
package:
	rm -rf $(PKG_BUILD)
	@mkdir -p $(PKG_BUILD)/man
	CGO_ENABLED=0 GOOS=linux GOARCH=$(PKG_ARCH) $(GO) build -trimpath -ldflags '$(LDFLAGS)' \
	  -o $(PKG_BUILD)/ $(addprefix ./cmd/,$(PKG_PROGRAMS))
	for m in $(PKG_MANPAGES); do gzip -9n < $$m > $(PKG_BUILD)/man/$${m##*/}.gz || exit 1; done
	$(GO) -C packaging/mkpkg build -o $(abspath $(PKG_BUILD))/mkpkg .
	$(PKG_BUILD)/mkpkg -build $(PKG_BUILD) -out $(PKG_OUT) -arch $(PKG_ARCH) $(if $(PKG_VERSION),-version '$(PKG_VERSION)')

clean:
	rm -rf $(BIN) dist run
