#!/usr/bin/env bash
# Builds kube-apiserver, kube-controller-manager (and, with WITH_KUBECTL=1, kubectl) from the k8s.io/kubernetes
# module through a generated wrapper module, and etcd from go.etcd.io/etcd/server/v3, into $OUT.
#
# Called by `cargo xtask control-plane up` / `cargo xtask test` with K8S_VERSION, ETCD_VERSION (pinned in
# xtask/src/control_plane.rs) and OUT (the per-version cache dir) set. Idempotent: a binary that already
# exists in $OUT is not rebuilt. Concurrent runs for the same $OUT wait for each other (flock).
# Why a wrapper module, which flags, and measured times: docs/testing.md.
set -euo pipefail

: "${K8S_VERSION:?K8S_VERSION must be set (e.g. v1.33.13)}"
: "${ETCD_VERSION:?ETCD_VERSION must be set (e.g. v3.6.14)}"
: "${OUT:?OUT must be set to the cache directory}"

log() { echo "[build-control-plane $(date -u +%H:%M:%S)] $*" >&2; }
die() { log "error: $*"; exit 2; }

command -v go >/dev/null 2>&1 || die "Go is not installed (needed to build the control plane; or set KUBEBUILDER_ASSETS)"

# Never download a toolchain, build static binaries, ignore any go.work/GOFLAGS of the caller.
export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS= GOWORK=off
mkdir -p "$OUT"
WORK="$OUT/.build"
mkdir -p "$WORK/k8s" "$WORK/etcd"
# A private module and build cache (~3 GB for Kubernetes), deleted once the binaries are in $OUT: the
# binaries are what is cached, and a machine with little disk (CI) must not keep gigabytes of Go objects.
export GOMODCACHE="$WORK/gomodcache" GOCACHE="$WORK/gocache"

if command -v flock >/dev/null 2>&1; then
  exec 9>"$OUT/.build.lock"
  flock 9
fi
trap 'rm -f "$OUT"/*.tmp' EXIT

minor=$(echo "$K8S_VERSION" | sed -E 's/^v1\.([0-9]+)\..*/\1/')
staging_version="v0.${K8S_VERSION#v1.}"   # Kubernetes v1.N.M <-> staging modules v0.N.M
build_date=$(date -u +%Y-%m-%dT%H:%M:%SZ)
go_version=$(go env GOVERSION)            # e.g. go1.26.8

# Fails early with a clear message when the installed Go is older than a module's `go` line.
require_go() { # $1 = go.mod file of the upstream module, $2 = its name
  local need
  need=$(sed -n -E 's/^go ([0-9.]+).*/\1/p' "$1" | head -1)
  [ -n "$need" ] || return 0
  if [ "$(printf '%s\n%s\n' "$need" "${go_version#go}" | sort -V | head -1)" != "$need" ]; then
    die "$2 needs Go >= $need, but $go_version is installed (GOTOOLCHAIN=local never downloads one)"
  fi
}

# Downloads a module's go.mod into the module cache and prints its path.
upstream_mod() { # $1 = module path, $2 = version
  go mod download -json "$1@$2" >/dev/null || die "cannot download $1@$2 (check GOPROXY=$(go env GOPROXY))"
  echo "$(go env GOMODCACHE)/cache/download/$1/@v/$2.mod"
}

build_k8s() {
  cd "$WORK/k8s"
  local up
  up=$(upstream_mod k8s.io/kubernetes "$K8S_VERSION")
  require_go "$up" "k8s.io/kubernetes $K8S_VERSION"
  if [ ! -f go.mod ]; then
    local go_line godebug_line
    go_line=$(grep -E '^go [0-9]' "$up" | head -1)
    godebug_line=$(grep -E '^godebug ' "$up" | head -1 || true)
    {
      echo "module local/edgefleet-envtest-k8s"
      echo
      echo "$go_line"
      if [ -n "$godebug_line" ]; then echo "$godebug_line"; fi
      echo
      echo "require k8s.io/kubernetes $K8S_VERSION"
      echo
      echo "replace ("
      # Every staging module upstream redirects to ./staging, pinned to the matching v0.N.M instead.
      sed -n 's|.*k8s.io/\([^ ]*\) => ./staging/src/k8s.io/.*|k8s.io/\1|p' "$up" | sort -u | while read -r m; do
        echo "	$m => $m $staging_version"
      done
      echo ")"
    } > go.mod.tmp
    cat > tools.go <<'GO'
//go:build tools

package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
GO
    mv go.mod.tmp go.mod
    log "resolving k8s.io/kubernetes $K8S_VERSION dependencies"
    # -e: keep going past packages for other platforms; the -mod=mod builds below add anything missing.
    GOFLAGS=-mod=mod go mod tidy -e || log "go mod tidy reported problems; continuing with -mod=mod"
  fi
  local ld="-s -w"
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld="$ld -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean -X $pkg.buildDate=$build_date"
  done
  local bins="kube-apiserver kube-controller-manager"
  if [ "${WITH_KUBECTL:-0}" = "1" ]; then bins="$bins kubectl"; fi
  for b in $bins; do
    if [ ! -x "$OUT/$b" ]; then
      log "building $b $K8S_VERSION"
      GOFLAGS=-mod=mod go build -trimpath -tags=selinux,notest,grpcnotrace -ldflags "$ld" -o "$OUT/$b.tmp" "k8s.io/kubernetes/cmd/$b"
      # Check the version stamp before publishing the binary.
      local reported
      if [ "$b" = kubectl ]; then
        reported=$("$OUT/$b.tmp" version --client 2>/dev/null | sed -n 's/^Client Version: //p')
      else
        reported=$("$OUT/$b.tmp" --version 2>/dev/null | awk '{print $2}')
      fi
      [ "$reported" = "$K8S_VERSION" ] || die "$b reports version '$reported', expected $K8S_VERSION"
      mv "$OUT/$b.tmp" "$OUT/$b"
    fi
  done
}

build_etcd() {
  [ -x "$OUT/etcd" ] && return 0
  cd "$WORK/etcd"
  local up
  up=$(upstream_mod go.etcd.io/etcd/server/v3 "$ETCD_VERSION")
  require_go "$up" "etcd $ETCD_VERSION"
  if [ ! -f go.mod ]; then
    # go.etcd.io/etcd/server/v3 is itself `package main`; its go.mod has relative replaces, hence the wrapper.
    {
      echo "module local/edgefleet-envtest-etcd"
      echo
      grep -E '^go [0-9]' "$up" | head -1
      echo
      echo "require go.etcd.io/etcd/server/v3 $ETCD_VERSION"
    } > go.mod.tmp
    cat > tools.go <<'GO'
//go:build tools

package tools

import _ "go.etcd.io/etcd/server/v3"
GO
    mv go.mod.tmp go.mod
    GOFLAGS=-mod=mod go mod tidy -e || log "go mod tidy reported problems; continuing with -mod=mod"
  fi
  log "building etcd $ETCD_VERSION"
  GOFLAGS=-mod=mod go build -trimpath -ldflags "-s -w -X go.etcd.io/etcd/api/v3/version.GitSHA=gomod-$ETCD_VERSION" -o "$OUT/etcd.tmp" go.etcd.io/etcd/server/v3
  local reported
  reported=$("$OUT/etcd.tmp" --version 2>/dev/null | sed -n 's/^etcd Version: //p')
  [ "v$reported" = "$ETCD_VERSION" ] || die "etcd reports version '$reported', expected $ETCD_VERSION"
  mv "$OUT/etcd.tmp" "$OUT/etcd"
}

# Frees the private caches (module files are read-only, hence `go clean -modcache`).
clean_work() {
  go clean -cache -modcache >/dev/null 2>&1 || true
  rm -rf "$WORK"
}

log "Go $go_version, k8s $K8S_VERSION, etcd $ETCD_VERSION, output $OUT"
df -h "$OUT" | tail -1 | awk '{print "[build-control-plane] disk free at " $6 ": " $4}' >&2
build_etcd
build_k8s
(cd / && clean_work)
log "control plane binaries ready in $OUT ($(du -sh "$OUT" | cut -f1))"
