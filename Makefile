# SequentialJob operator. `make run` and `make test` are the two commands a
# fresh machine needs; every tool and control-plane binary is built from Go
# modules into bin/ (see tools/).

SHELL := /usr/bin/env bash -o pipefail
.SHELLFLAGS := -ec

ROOT        := $(abspath .)
BIN         := $(ROOT)/bin
LOCAL       := $(ROOT)/.local
export GOFLAGS ?= -buildvcs=false

CONTROLLER_GEN := $(BIN)/controller-gen
KUSTOMIZE      := $(BIN)/kustomize
GOLANGCI_LINT  := $(BIN)/golangci-lint
KWOK_VERSION   := v0.8.0

# The control-plane binaries envtest and the local cluster run.
KUBE_BINS := $(BIN)/kube-apiserver $(BIN)/etcd $(BIN)/kube-controller-manager $(BIN)/kube-scheduler $(BIN)/kubectl
CLUSTER_BINS := $(KUBE_BINS) $(BIN)/kwok
KUEUE_BINS := $(BIN)/kueue
JOBSET_BINS := $(BIN)/jobset

export KUBEBUILDER_ASSETS := $(BIN)

CRD_RAW := config/crd/bases/batch.example.com_sequentialjobs.yaml
CRD     := config/crd/sequentialjobs.yaml

# The image and the release (make image, make release): IMAGE is the
# repository the release manifests pull from.
DIST         ?= $(ROOT)/dist
IMAGE        ?= registry.example.com/sequentialjob/sequentialjob-controller
VERSION      ?= 0.0.0-dev
IMAGE_SOURCE ?= https://example.com/sequentialjob
REVISION     := $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
# Every timestamp in the image is the commit's time, so that two builds of
# one commit give one digest.
SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct 2>/dev/null || echo 0)

EXAMPLE  ?= examples/seed-example.yaml
RUN_ARGS ?=

.PHONY: all
all: build

##@ Code generation

.PHONY: generate
generate: $(CONTROLLER_GEN) ## Deepcopy and applyconfigurations.
	$(CONTROLLER_GEN) object applyconfiguration paths=./apis/...

.PHONY: manifests
manifests: $(CONTROLLER_GEN) $(KUSTOMIZE) ## CRD (raw, then patched by kustomize) and RBAC.
	$(CONTROLLER_GEN) crd:generateEmbeddedObjectMeta=true paths=./apis/... output:crd:artifacts:config=config/crd/bases
	$(CONTROLLER_GEN) rbac:roleName=sequentialjob-controller paths=./reconciler/... paths=./cmd/sequentialjob-controller/... output:rbac:artifacts:config=config/rbac
	$(KUSTOMIZE) build config/crd > $(CRD)

.PHONY: verify
verify: generate manifests ## Fail when generated files are stale or code is unformatted.
	@test -z "$$(gofmt -l $$(git ls-files '*.go' | grep -v '^tools/kube/'))" || { echo "gofmt needed:"; gofmt -l $$(git ls-files '*.go' | grep -v '^tools/kube/'); exit 1; }
	go vet ./...
	cd tools && go vet ./image/...
	$(MAKE) lint
	@# The render CLI is meant for CI on any OS: prove it builds off Linux.
	GOOS=darwin GOARCH=arm64 go build -o /dev/null ./cmd/sequentialjob
	GOOS=windows GOARCH=amd64 go build -o /dev/null ./cmd/sequentialjob
	@git diff --exit-code -- apis config || { echo "generated files are stale: run make generate manifests and commit"; exit 1; }
	@test -z "$$(git status --porcelain -- apis config)" || { git status --porcelain -- apis config; echo "untracked generated files"; exit 1; }

.PHONY: lint
lint: $(GOLANGCI_LINT) ## golangci-lint (.golangci.yml) on the main module and tools/image.
	$(GOLANGCI_LINT) run ./...
	cd tools && $(GOLANGCI_LINT) run ./image/...

##@ Build

.PHONY: build
build: ## Build the controller and the CLI into bin/.
	go build -o $(BIN)/sequentialjob-controller ./cmd/sequentialjob-controller
	go build -o $(BIN)/sequentialjob ./cmd/sequentialjob
	cp $(BIN)/sequentialjob $(BIN)/kubectl-sequentialjob

# Where install-plugin puts kubectl-sequentialjob: a directory on PATH,
# where kubectl finds plugins.
PLUGIN_DIR ?= $(shell go env GOPATH)/bin

.PHONY: install-plugin
install-plugin: build ## Install the CLI as the kubectl plugin `kubectl sequentialjob` into PLUGIN_DIR (default: $(go env GOPATH)/bin).
	mkdir -p $(PLUGIN_DIR)
	install -m 0755 $(BIN)/kubectl-sequentialjob $(PLUGIN_DIR)/kubectl-sequentialjob
	@echo "installed $(PLUGIN_DIR)/kubectl-sequentialjob; with $(PLUGIN_DIR) on PATH, run: kubectl sequentialjob --help"

##@ Image and release (no Docker: see tools/image)

.PHONY: image
image: ## OCI image of the controller for linux/amd64 and linux/arm64: dist/image (OCI layout), dist/sequentialjob-controller.tar, dist/image.digest.
	cd tools && go run ./image build -src $(ROOT) -out $(DIST) -name $(IMAGE) -version $(VERSION) \
		-revision $(REVISION) -source $(IMAGE_SOURCE) -epoch $(SOURCE_DATE_EPOCH)

.PHONY: image-push
image-push: ## Push dist/image to IMAGE:VERSION (credentials of docker login / crane auth login).
	cd tools && go run ./image push -layout $(DIST)/image $(IMAGE):$(VERSION)

.PHONY: release
release: ## VERSION=x.y.z: the image, then dist/install.yaml (pinned to its digest) and dist/policies.yaml.
	@test "$(VERSION)" != 0.0.0-dev || { echo "usage: make release VERSION=x.y.z [IMAGE=registry/repository]"; exit 1; }
	$(MAKE) image
	$(MAKE) release-manifests IMAGE_DIGEST=$$(cat $(DIST)/image.digest)

# The manifests of a release, for an image already built (IMAGE_DIGEST):
# config/default with the image pinned by digest and every object labelled
# with VERSION, and config/policies on their own.
.PHONY: release-manifests
release-manifests: $(KUSTOMIZE)
	@test -n "$(IMAGE_DIGEST)" || { echo "IMAGE_DIGEST=sha256:... is required (make release sets it)"; exit 1; }
	rm -rf $(DIST)/kustomize && mkdir -p $(DIST)/kustomize
	$(KUSTOMIZE) build config/default > $(DIST)/kustomize/default.yaml
	printf '%s\n' 'apiVersion: kustomize.config.k8s.io/v1beta1' 'kind: Kustomization' 'resources: [default.yaml]' \
		'labels: [{pairs: {app.kubernetes.io/version: "$(VERSION)"}}]' \
		'images: [{name: sequentialjob-controller, newName: "$(IMAGE)", digest: "$(IMAGE_DIGEST)"}]' > $(DIST)/kustomize/kustomization.yaml
	$(KUSTOMIZE) build $(DIST)/kustomize > $(DIST)/install.yaml
	$(KUSTOMIZE) build config/policies > $(DIST)/policies.yaml
	rm -rf $(DIST)/kustomize
	@echo "wrote $(DIST)/install.yaml ($(IMAGE)@$(IMAGE_DIGEST)) and $(DIST)/policies.yaml"

##@ Test

.PHONY: test
test: verify $(CLUSTER_BINS) $(KUEUE_BINS) $(JOBSET_BINS) build ## Every tier: unit, envtest, e2e; and the image.
	go test ./... -count=1 -timeout 40m
	cd tools && go test ./image/... -count=1 -timeout 20m

.PHONY: test-unit
test-unit: ## Unit tier only (no binaries).
	go test -short ./render/... ./config/crd/... ./policies/... ./cmd/... ./test/badinput/... -count=1

.PHONY: bench
bench: $(KUBE_BINS) ## Benchmarks of the hot paths: render (pure), and a reconciled run on envtest (API requests per run).
	go test ./render/... -run '^$$' -bench . -benchmem
	go test ./reconciler/... -run '^$$' -bench . -benchtime 20x

# Sizes of the benchmark commands; `make test` runs each with small ones.
SCALE_RUNS    ?= 5000
CLUSTER_RUNS  ?= 100
COMPARE_RUNS  ?= 100
COMPARE_STEPS ?= 3
BENCH_ARGS   ?=

.PHONY: bench-scale
bench-scale: $(KUBE_BINS) ## SCALE_RUNS SequentialJobs x 3 steps on envtest, Jobs completed by the benchmark: time, transitions/s, handoff, peak RSS, CPU per step.
	go test ./test/bench/ -run '^TestScale$$' -count=1 -v -timeout 120m -args -scale.runs=$(SCALE_RUNS) $(BENCH_ARGS)

.PHONY: bench-cluster
bench-cluster: $(CLUSTER_BINS) ## CLUSTER_RUNS SequentialJobs x 3 steps on the local cluster against a baseline of bare Jobs: handoff, CPU, RSS, requests per transition (audit log).
	go test ./test/bench/ -run '^TestCluster$$' -count=1 -v -timeout 90m -args -cluster.runs=$(CLUSTER_RUNS) $(BENCH_ARGS)

.PHONY: bench-compare
bench-compare: $(CLUSTER_BINS) $(JOBSET_BINS) ## On one local cluster: COMPARE_RUNS SequentialJobs x COMPARE_STEPS steps, as many JobSets of as many replicatedJobs chained by dependsOn, ours again; handoff as an outside watcher sees it, CPU, RSS, requests per transition; a markdown table.
	go test ./test/bench/ -run '^TestCompare$$' -count=1 -v -timeout 120m -args -compare.runs=$(COMPARE_RUNS) -compare.steps=$(COMPARE_STEPS) $(BENCH_ARGS)

# go test -fuzz takes one target per run, so each target gets FUZZTIME.
# A crasher is written to the target's testdata/fuzz/ and fails the run;
# committed, it becomes a regression seed that `make test` runs.
# Minimizing each new interesting input takes up to a minute by default,
# which starves a target whose inputs are documents of a few kilobytes.
FUZZTIME  ?= 10m
FUZZ_ARGS ?= -fuzzminimizetime 5s

.PHONY: fuzz
fuzz: ## Every fuzz target (func Fuzz* in a committed _test.go), FUZZTIME each.
	git grep -o '^func Fuzz[A-Za-z0-9_]*' -- '*_test.go' | while IFS=: read -r file fn; do \
		echo "== $${fn#func } in ./$$(dirname $$file) for $(FUZZTIME)"; \
		go test ./$$(dirname $$file) -run '^$$' -fuzz "^$${fn#func }\$$" -fuzztime $(FUZZTIME) $(FUZZ_ARGS) || exit 1; \
	done

CHAOS_RUNS  ?= 30
CHAOS_KILLS ?= 20
CHAOS_ARGS  ?=

.PHONY: chaos
chaos: $(CLUSTER_BINS) ## Every chaos scenario on the local cluster (SIGKILLs, API faults, apiserver restarts, leader kills), CHAOS_RUNS SequentialJobs of 5 steps each; a summary table; fails if anything is lost, doubled or wrong.
	go test ./test/e2e/ -run '^TestChaos' -count=1 -v -timeout 120m -args -chaos.all -chaos.runs=$(CHAOS_RUNS) -chaos.kills=$(CHAOS_KILLS) $(CHAOS_ARGS)

##@ Local cluster

.PHONY: run
# KUEUE=1 starts a real Kueue too, with examples/kueue/queues.yaml; try
# EXAMPLE=examples/queued-steps.yaml.
KUEUE ?=
KUEUE_MODULE = $(shell cd tools/kueue && go list -m -f '{{.Dir}}' sigs.k8s.io/kueue)

run: $(CLUSTER_BINS) build $(if $(KUEUE),$(KUEUE_BINS)) ## Local cluster + controller (+ Kueue with KUEUE=1) + EXAMPLE, with live progress.
	$(BIN)/sequentialjob local run --bin $(BIN) --dir $(LOCAL) --crd $(CRD) --example "$(EXAMPLE)" $(if $(KUEUE),--kueue-module $(KUEUE_MODULE)) $(RUN_ARGS)

##@ Tools (built from Go modules; nothing downloaded but modules)

$(CONTROLLER_GEN):
	cd tools && GOBIN=$(BIN) go install sigs.k8s.io/controller-tools/cmd/controller-gen

$(KUSTOMIZE):
	cd tools && GOBIN=$(BIN) go install sigs.k8s.io/kustomize/kustomize/v5

# golangci-lint has its own module (tools/lint) so that its many
# dependencies do not move the versions tools/go.mod pins. Rebuilt when the
# pin changes.
$(GOLANGCI_LINT): tools/lint/go.mod
	cd tools/lint && go build -o $(GOLANGCI_LINT) github.com/golangci/golangci-lint/v2/cmd/golangci-lint

$(BIN)/kwok:
	GOBIN=$(BIN) go install sigs.k8s.io/kwok/cmd/kwok@$(KWOK_VERSION)

# The version the Kubernetes binaries report (kube-apiserver's /version):
# a plain `go build` leaves "v0.0.0-master+$Format:%H$", which clients that
# parse the server version reject (Kueue exits on it). Set as Kubernetes'
# own build does (hack/lib/version.sh); -X only changes the link step.
KUBE_VERSION = $(shell cd tools/kube && go list -m -f '{{.Version}}' k8s.io/kubernetes)
KUBE_LDFLAGS = -X k8s.io/component-base/version.gitVersion=$(KUBE_VERSION) \
	-X k8s.io/component-base/version.gitMajor=$(word 1,$(subst ., ,$(patsubst v%,%,$(KUBE_VERSION)))) \
	-X k8s.io/component-base/version.gitMinor=$(word 2,$(subst ., ,$(KUBE_VERSION))) \
	-X k8s.io/component-base/version.gitTreeState=clean

# One `go install` builds all of them: the packages share most of their
# dependencies, so this is far faster than one build each (~12 min cold).
$(KUBE_BINS) &:
	cd tools/kube && GOBIN=$(BIN) go install -ldflags "$(KUBE_LDFLAGS)" go.etcd.io/etcd/server/v3 \
		k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
		k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubectl
	mv -f $(BIN)/server $(BIN)/etcd

# Kueue's controller manager, for the tests (and `make run`) that queue step
# Jobs through a real Kueue. Its own module (tools/kueue) because Kueue pins
# older k8s.io/* and controller-runtime than tools/kube and the main module.
# (KUEUE_BINS is set at the top: prerequisites are expanded as read.)
$(BIN)/kueue: tools/kueue/go.mod
	cd tools/kueue && go build -o $(BIN)/kueue sigs.k8s.io/kueue/cmd/kueue

# JobSet's controller manager, for `make bench-compare` (and the short
# version of it in `make test`). Its own module (tools/jobset) for the same
# reason as Kueue's: it pins its own k8s.io/* and controller-runtime.
$(BIN)/jobset: tools/jobset/go.mod
	cd tools/jobset && go build -o $(BIN)/jobset sigs.k8s.io/jobset

.PHONY: bin
bin: $(CLUSTER_BINS) $(KUEUE_BINS) $(JOBSET_BINS) $(CONTROLLER_GEN) $(KUSTOMIZE) $(GOLANGCI_LINT) ## Build every tool and control-plane binary, Kueue and JobSet.

.PHONY: clean
clean:
	rm -rf $(BIN) $(LOCAL)

.PHONY: help
help:
	@awk 'BEGIN {FS = ":.*##"} /^[a-zA-Z_-]+:.*?##/ { printf "  %-12s %s\n", $$1, $$2 }' $(MAKEFILE_LIST)
