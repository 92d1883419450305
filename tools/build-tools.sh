#!/usr/bin/env bash
# Build the pinned developer/test tools of stackscope from Go modules.
#
# Every binary is built from source with the Go toolchain (module proxy only:
# no prebuilt downloads) into a cache outside the repository:
#
#   ${STACKSCOPE_TOOLS:-$HOME/.cache/stackscope/tools}/<name>-<version>/<binary>
#
# Anything already built (binary present and answering --version) is skipped,
# so running the script again is a no-op that takes about a second.
#
# Usage:
#   tools/build-tools.sh [control-plane|all|<name>...]   build, then print bin dir(s)
#   tools/build-tools.sh --print-path control-plane       print ONLY the directory
#       holding etcd, kube-apiserver, kube-controller-manager and kubectl
#       (KUBEBUILDER_ASSETS-style); builds first if needed, logging to stderr.
#   tools/build-tools.sh --list                           list known tool names
#
# Names: etcd, kubernetes (kube-apiserver + kube-controller-manager + kubectl),
#        control-plane (= etcd + kubernetes + the combined bin dir),
#        prometheus (prometheus + promtool), alertmanager (alertmanager + amtool),
#        jaeger, engines (= prometheus + alertmanager + jaeger),
#        grafana-schema, alloy-syntax, argocd-health (stackscope's own checkers,
#        tools/checkers/<name>/), checkers (= all three),
#        helm (the chart's lint, template and the e2e tests),
#        standins (standin + catcher: the stand-in services and alert receivers, tools/standins/),
#        all (= control-plane + engines + checkers + helm + standins),
#        prometheus-operator (the side by side of `make scale` only; not part of `all`).
#
# Measured on the 2-core dev machine (Go 1.26.8, empty Go module and build
# caches, run under `nice -n 10` while other compiles were running):
#   cold `tools/build-tools.sh control-plane`: 14 min 24 s (while other compiles ran).
#   warm re-run (everything already built): ~1 s.
#   cold `tools/build-tools.sh checkers` (both checkers, empty module and build caches): 53 s.
#   cold `tools/build-tools.sh helm` (empty module and build caches): 3 min 28 s.
#   cold `tools/build-tools.sh standins` (empty module and build caches, while a Kubernetes
#   build ran): 1 min 46 s.
set -euo pipefail

# ---------------------------------------------------------------------------
# Pinned versions (change here only).
# ---------------------------------------------------------------------------
# Kubernetes 1.34 matches k8s-openapi's `v1_34` feature used by the operator.
KUBERNETES_VERSION="v1.34.12"
# Staging modules (k8s.io/api, k8s.io/apimachinery, ...) are tagged v0.<minor>.<patch>.
KUBERNETES_STAGING_VERSION="v0.${KUBERNETES_VERSION#v1.}"
ETCD_VERSION="v3.6.16"
# Used only if the local `go` is older than a module's `go` line requires.
GO_FALLBACK_TOOLCHAIN="go1.27.3"
# The engines that judge the rendered configuration, at the versions of the images the stack
# renders (operator/src/api/defaults.rs). Prometheus 3.x is tagged v0.3MM.P in Go (v3.7.3 is
# v0.307.3); Jaeger v2 ships from the module's v1 line (v2.11.0 is v1.74.0).
PROMETHEUS_RELEASE="v3.7.3"
PROMETHEUS_VERSION="v0.307.3"       # promtool + prometheus
ALERTMANAGER_VERSION="v0.29.0"      # amtool + alertmanager
JAEGER_RELEASE="v2.11.0"
JAEGER_VERSION="v1.74.0"            # jaeger (cmd/jaeger)
# Helm 4, the maintained major line (Helm 3 receives security fixes only); the chart's
# apiVersion v2 installs with Helm 3 as well.
HELM_VERSION="v4.3.1"
# prometheus-operator, for the side-by-side scale run only (`make scale`; not part of `all`). The
# same release whose ServiceMonitor CRD the import tests read (tests/src/prometheus_operator.rs).
PROMETHEUS_OPERATOR_VERSION="v0.85.0"
# The node (tools/node.sh) and the images of its pods (tools/images.sh). CoreDNS and pause at the
# versions Kubernetes 1.34 ships (kubeadm's constants); kube-state-metrics at the release built
# against client-go v0.34; node_exporter at a current release. The config reloader at the version
# the rendered manifests name (the module proxy serves v0.86.1, not v0.86.0); Thanos at the
# version the rendered manifests name.
COREDNS_VERSION="v1.12.1"
PAUSE_VERSION="3.10.1"
KUBE_STATE_METRICS_VERSION="v2.18.0"
NODE_EXPORTER_VERSION="v1.10.2"
CONFIG_RELOADER_VERSION="v0.86.1"
THANOS_VERSION="v0.40.1"

TOOLS_DIR="${STACKSCOPE_TOOLS:-$HOME/.cache/stackscope/tools}"
# Wrapper modules live next to the binaries (outside the repo); Go's default
# module and build caches are used.
SRC_DIR="$TOOLS_DIR/.src"

log() { echo "build-tools: $*" >&2; }
die() { log "error: $*"; exit 1; }

# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------

# bin_dir NAME VERSION
bin_dir() { echo "$TOOLS_DIR/$1-$2"; }

# version_ok BINARY EXPECTED_SUBSTRING: the binary exists, runs and reports the version.
version_ok() {
  local bin="$1" want="$2" out
  [[ -x "$bin" ]] || return 1
  case "$(basename "$bin")" in
    kubectl) out="$("$bin" version --client 2>/dev/null)" || return 1 ;;
    helm) out="$("$bin" version --short 2>/dev/null)" || return 1 ;;
    kube-state-metrics) out="$("$bin" version 2>/dev/null)" || return 1 ;;
    coredns) out="$("$bin" -version 2>/dev/null)" || return 1 ;;
    pause) out="$("$bin" -v 2>/dev/null)" || return 1 ;;
    # kingpin's version flag of this release prints to stderr
    thanos) out="$("$bin" --version 2>&1)" || return 1 ;;
    *) out="$("$bin" --version 2>/dev/null)" || return 1 ;;
  esac
  [[ "$out" == *"$want"* ]]
}

# go_version_at_least HAVE WANT (both like 1.25.0)
go_version_at_least() {
  [[ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n1)" == "$2" ]]
}

# Pick GOTOOLCHAIN for a wrapper module whose go.mod says `go $1`.
ensure_toolchain() {
  local need="$1" have
  have="$(go env GOVERSION)"; have="${have#go}"
  if go_version_at_least "$have" "$need"; then
    export GOTOOLCHAIN=local
  else
    log "local go $have < $need required; using GOTOOLCHAIN=$GO_FALLBACK_TOOLCHAIN"
    export GOTOOLCHAIN="$GO_FALLBACK_TOOLCHAIN"
  fi
}

# module_go_mod MODULE VERSION -> path of the downloaded go.mod in the module cache
module_go_mod() {
  local json
  json="$(GOFLAGS=-mod=mod go mod download -json "$1@$2")" || die "cannot download $1@$2"
  sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",\{0,1\}$/\1/p' <<<"$json" | head -n1
}

# module_info MODULE VERSION FIELD -> a field of the proxy's .info JSON
# ("Time", or "Hash" from Origin when the proxy records it; may be empty).
module_info() {
  local info
  info="$(go mod download -json "$1@$2" 2>/dev/null \
    | sed -n 's/^[[:space:]]*"Info": "\(.*\)",\{0,1\}$/\1/p' | head -n1)"
  [[ -f "$info" ]] || return 0
  # A proxy that records no such field is fine: the caller stamps "unknown".
  { grep -o "\"$3\": *\"[^\"]*\"" "$info" || true; } | head -n1 | sed 's/.*: *"\(.*\)"/\1/'
}

# go_line GO_MOD_FILE -> the `go` version of a go.mod
go_line() { sed -n 's/^go \([0-9.]*\).*/\1/p' "$1" | head -n1; }

# finish_install TMP_OUT FINAL_DIR: atomically move a finished build into place.
finish_install() {
  local tmp="$1" final="$2"
  rm -rf "$final.old"
  [[ -e "$final" ]] && mv "$final" "$final.old"
  mv "$tmp" "$final"
  rm -rf "$final.old"
}

with_lock() {
  mkdir -p "$TOOLS_DIR"
  if command -v flock >/dev/null 2>&1; then
    exec 9>"$TOOLS_DIR/.lock"
    flock 9
  fi
}

# ---------------------------------------------------------------------------
# etcd: module go.etcd.io/etcd/server/v3, main package at the module root.
# Its go.mod `replace`s sibling modules by relative path, so `go install
# module@version` refuses it: build through a small wrapper module instead.
# ---------------------------------------------------------------------------
etcd_dir() { bin_dir etcd "$ETCD_VERSION"; }

build_etcd() {
  local out; out="$(etcd_dir)"
  if version_ok "$out/etcd" "etcd Version: ${ETCD_VERSION#v}"; then
    log "etcd $ETCD_VERSION already built"; return 0
  fi
  log "building etcd $ETCD_VERSION"
  local wd="$SRC_DIR/etcd-$ETCD_VERSION" upstream need commit tmp
  mkdir -p "$wd"
  upstream="$(cd "$wd" && module_go_mod go.etcd.io/etcd/server/v3 "$ETCD_VERSION")"
  need="$(go_line "$upstream")"
  ensure_toolchain "$need"
  {
    echo "// Generated by tools/build-tools.sh: builds etcd $ETCD_VERSION."
    echo "module stackscope.local/tools/etcd"
    echo
    echo "go $need"
    echo
    echo "require go.etcd.io/etcd/server/v3 $ETCD_VERSION"
    echo
    echo "replace ("
    # pin the sibling modules that upstream replaces by relative path
    local m
    for m in api/v3 client/pkg/v3 client/v3 pkg/v3; do
      echo "	go.etcd.io/etcd/$m => go.etcd.io/etcd/$m $ETCD_VERSION"
    done
    echo ")"
  } >"$wd/go.mod"
  commit="$(cd "$wd" && module_info go.etcd.io/etcd/server/v3 "$ETCD_VERSION" Hash)"
  tmp="$(etcd_dir).tmp.$$"
  rm -rf "$tmp"; mkdir -p "$tmp"
  (
    cd "$wd"
    CGO_ENABLED=0 GOFLAGS=-mod=mod go build -trimpath \
      -ldflags "-s -w${commit:+ -X go.etcd.io/etcd/api/v3/version.GitSHA=${commit:0:7}}" \
      -o "$tmp/etcd" go.etcd.io/etcd/server/v3
  )
  version_ok "$tmp/etcd" "etcd Version: ${ETCD_VERSION#v}" || die "built etcd does not report $ETCD_VERSION"
  finish_install "$tmp" "$out"
  log "etcd $ETCD_VERSION -> $out"
}

# ---------------------------------------------------------------------------
# Kubernetes: kube-apiserver, kube-controller-manager and kubectl from
# k8s.io/kubernetes, through ONE wrapper module that requires k8s.io/kubernetes
# and replaces every k8s.io/* staging module (upstream points them at
# ./staging/src/...) with its published v0.x.y, so one `go build` shares the
# build cache across the three binaries.
# ---------------------------------------------------------------------------
KUBERNETES_BINARIES=(kube-apiserver kube-controller-manager kubectl)
# The node's (tools/node.sh): built by a second `go build` in the same wrapper module, so every
# package the two sets share comes from the Go build cache.
KUBERNETES_NODE_BINARIES=(kubelet kube-scheduler kube-proxy)
kubernetes_dir() { bin_dir kubernetes "$KUBERNETES_VERSION"; }
kubernetes_node_dir() { bin_dir kubernetes-node "$KUBERNETES_VERSION"; }

# kubernetes_built DIR BINARY...: every binary is there and reports the pinned version
kubernetes_built() {
  local b dir="$1"
  shift
  for b in "$@"; do
    version_ok "$dir/$b" "$KUBERNETES_VERSION" || return 1
  done
}

# build_kubernetes_set DIR BINARY...: the binaries of k8s.io/kubernetes/cmd/<binary> into DIR
build_kubernetes_set() {
  local out="$1"
  shift
  if kubernetes_built "$out" "$@"; then
    log "kubernetes $KUBERNETES_VERSION ($*) already built"; return 0
  fi
  log "building kubernetes $KUBERNETES_VERSION ($*)"
  local wd="$SRC_DIR/kubernetes-$KUBERNETES_VERSION" upstream need commit date tmp staging m
  mkdir -p "$wd"
  upstream="$(cd "$wd" && module_go_mod k8s.io/kubernetes "$KUBERNETES_VERSION")"
  need="$(go_line "$upstream")"
  ensure_toolchain "$need"
  # Staging modules = upstream's `replace k8s.io/x => ./staging/src/k8s.io/x`.
  staging="$(sed -n 's#^[[:space:]]*\(k8s\.io/[A-Za-z0-9._-]*\)[[:space:]]*=>[[:space:]]*\./staging/.*#\1#p' "$upstream" | sort -u)"
  [[ -n "$staging" ]] || die "no staging replaces found in k8s.io/kubernetes $KUBERNETES_VERSION go.mod"
  {
    echo "// Generated by tools/build-tools.sh: builds Kubernetes $KUBERNETES_VERSION binaries."
    echo "module stackscope.local/tools/kubernetes"
    echo
    echo "go $need"
    # keep upstream's GODEBUG defaults (they apply to the main module only)
    grep -E '^godebug ' "$upstream" || true
    echo
    echo "require k8s.io/kubernetes $KUBERNETES_VERSION"
    echo
    echo "replace ("
    for m in $staging; do
      echo "	$m => $m $KUBERNETES_STAGING_VERSION"
    done
    echo ")"
  } >"$wd/go.mod"
  commit="$(cd "$wd" && module_info k8s.io/kubernetes "$KUBERNETES_VERSION" Hash)"
  date="$(cd "$wd" && module_info k8s.io/kubernetes "$KUBERNETES_VERSION" Time)"
  local major minor ldflags="-s -w" pkg
  major="$(cut -d. -f1 <<<"${KUBERNETES_VERSION#v}")"
  minor="$(cut -d. -f2 <<<"${KUBERNETES_VERSION#v}")"
  # same version stamping as upstream's hack/lib/version.sh
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags+=" -X $pkg.gitVersion=$KUBERNETES_VERSION -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor"
    ldflags+=" -X $pkg.gitCommit=${commit:-unknown} -X $pkg.gitTreeState=clean"
    # buildDate = the release's publication time (reproducible builds)
    ldflags+=" -X $pkg.buildDate=${date:-1970-01-01T00:00:00Z}"
  done
  tmp="$out.tmp.$$"
  rm -rf "$tmp"; mkdir -p "$tmp"
  local pkgs=()
  for m in "$@"; do pkgs+=("k8s.io/kubernetes/cmd/$m"); done
  (
    cd "$wd"
    CGO_ENABLED=0 GOFLAGS=-mod=mod go build -trimpath -ldflags "$ldflags" -o "$tmp/" "${pkgs[@]}"
  )
  for m in "$@"; do
    version_ok "$tmp/$m" "$KUBERNETES_VERSION" || die "built $m does not report $KUBERNETES_VERSION"
  done
  finish_install "$tmp" "$out"
  log "kubernetes $KUBERNETES_VERSION ($*) -> $out"
}

build_kubernetes() { build_kubernetes_set "$(kubernetes_dir)" "${KUBERNETES_BINARIES[@]}"; }
build_kubernetes_node() { build_kubernetes_set "$(kubernetes_node_dir)" "${KUBERNETES_NODE_BINARIES[@]}"; }

# ---------------------------------------------------------------------------
# control-plane: one directory with etcd + kube-apiserver +
# kube-controller-manager + kubectl (symlinks into the per-tool dirs).
# ---------------------------------------------------------------------------
control_plane_dir() { bin_dir control-plane "$KUBERNETES_VERSION-etcd-$ETCD_VERSION"; }

link_control_plane() {
  local dir b; dir="$(control_plane_dir)"
  mkdir -p "$dir"
  ln -sfn "$(etcd_dir)/etcd" "$dir/etcd"
  for b in "${KUBERNETES_BINARIES[@]}"; do
    ln -sfn "$(kubernetes_dir)/$b" "$dir/$b"
  done
}

build_control_plane() {
  build_etcd
  build_kubernetes
  link_control_plane
}

# ---------------------------------------------------------------------------
# Go programs of other modules, through a wrapper module (so that upstream
# `replace` lines can be carried over and versions are pinned exactly).
# build_module_tool NAME VERSION MODULE PACKAGES LDFLAGS REPLACES PROBE
#   PACKAGES: space-separated import paths to build (binaries named by last element)
#   REPLACES: newline-separated `old => new version` lines for the wrapper go.mod
#   PROBE:    "<binary> <substring>" checked against `<binary> --version`
# ---------------------------------------------------------------------------
build_module_tool() {
  local name="$1" version="$2" module="$3" packages="$4" ldflags="$5" replaces="$6" probe="$7" tags="${8:-}"
  local out; out="$(bin_dir "$name" "$version${tags:+-${tags//,/-}}")"
  local probe_bin="${probe%% *}" probe_text="${probe#* }"
  if version_ok "$out/$probe_bin" "$probe_text"; then
    log "$name $version already built"; return 0
  fi
  log "building $name $version ($packages)"
  local wd="$SRC_DIR/$name-$version" upstream need tmp
  mkdir -p "$wd"
  upstream="$(cd "$wd" && module_go_mod "$module" "$version")"
  need="$(go_line "$upstream")"
  ensure_toolchain "$need"
  {
    echo "// Generated by tools/build-tools.sh: builds $name $version."
    echo "module stackscope.local/tools/$name"
    echo
    echo "go $need"
    echo
    echo "require $module $version"
    if [[ -n "$replaces" ]]; then
      echo
      echo "replace ("
      sed 's/^/\t/' <<<"$replaces"
      echo ")"
    fi
  } >"$wd/go.mod"
  tmp="$out.tmp.$$"
  rm -rf "$tmp"; mkdir -p "$tmp"
  # shellcheck disable=SC2086 # PACKAGES is a list
  (cd "$wd" && CGO_ENABLED=0 GOFLAGS=-mod=mod go build -trimpath -tags "$tags" -ldflags "-s -w $ldflags" -o "$tmp/" $packages)
  version_ok "$tmp/$probe_bin" "$probe_text" || die "built $probe_bin does not report $probe_text"
  finish_install "$tmp" "$out"
  log "$name $version -> $out"
}

# Upstream `replace` lines of a module's go.mod that point at other module versions (not at local
# paths), in both the one-line and the block form, as `old => new version` lines.
upstream_replaces() {
  awk '
    /^replace[[:space:]]*\($/ { block = 1; next }
    block && /^\)/ { block = 0; next }
    { line = $0; sub(/\/\/.*/, "", line) }
    block || line ~ /^replace[[:space:]]/ {
      sub(/^replace[[:space:]]+/, "", line)
      n = split(line, f, /[[:space:]]+/)
      # drop empty leading fields left by indentation
      j = 0; for (i = 1; i <= n; i++) if (f[i] != "") g[++j] = f[i]
      # old [oldversion] => new version; a path target (./x, ../x, /x) has no version
      for (i = 1; i <= j; i++) if (g[i] == "=>") break
      if (i < j && g[i + 1] !~ /^[.\/]/ && (i + 2) <= j) print g[1] " => " g[i + 1] " " g[i + 2]
      delete g
    }
  ' "$1"
}

prometheus_dir() { bin_dir prometheus "$PROMETHEUS_VERSION"; }
build_prometheus() {
  local stamp="-X github.com/prometheus/common/version.Version=${PROMETHEUS_RELEASE#v}"
  stamp+=" -X github.com/prometheus/common/version.Branch=HEAD"
  build_module_tool prometheus "$PROMETHEUS_VERSION" github.com/prometheus/prometheus \
    "github.com/prometheus/prometheus/cmd/prometheus github.com/prometheus/prometheus/cmd/promtool" \
    "$stamp" "" "promtool ${PROMETHEUS_RELEASE#v}"
}

alertmanager_dir() { bin_dir alertmanager "$ALERTMANAGER_VERSION"; }
build_alertmanager() {
  local stamp="-X github.com/prometheus/common/version.Version=${ALERTMANAGER_VERSION#v}"
  stamp+=" -X github.com/prometheus/common/version.Branch=HEAD"
  build_module_tool alertmanager "$ALERTMANAGER_VERSION" github.com/prometheus/alertmanager \
    "github.com/prometheus/alertmanager/cmd/alertmanager github.com/prometheus/alertmanager/cmd/amtool" \
    "$stamp" "" "amtool ${ALERTMANAGER_VERSION#v}"
}

jaeger_dir() { bin_dir jaeger "$JAEGER_VERSION"; }
build_jaeger() {
  local upstream replaces
  upstream="$(mkdir -p "$SRC_DIR" && cd "$SRC_DIR" && module_go_mod github.com/jaegertracing/jaeger "$JAEGER_VERSION")"
  replaces="$(upstream_replaces "$upstream")"
  build_module_tool jaeger "$JAEGER_VERSION" github.com/jaegertracing/jaeger \
    "github.com/jaegertracing/jaeger/cmd/jaeger" \
    "-X github.com/jaegertracing/jaeger/internal/version.latestVersion=$JAEGER_RELEASE" \
    "$replaces" "jaeger $JAEGER_RELEASE"
}

# ---------------------------------------------------------------------------
# Checkers: stackscope's own small Go programs under tools/checkers/<name>/ (their own go.mod and
# go.sum, pinned requires, committed) that judge rendered output with an upstream Go library:
#   grafana-schema  dashboards by the Grafana foundation SDK's types (strict decoding)
#   alloy-syntax    config.alloy by Alloy's own syntax parser and argument decoder
# Their cache directory is keyed by a hash of their sources, so an edited checker is rebuilt and
# an unchanged one is a no-op; the binary reports that hash through --version.
# ---------------------------------------------------------------------------
CHECKERS=(grafana-schema alloy-syntax)
CHECKERS+=(argocd-health)  # Argo CD health checks run by its Lua interpreter (issue 6)
CHECKERS_SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/checkers"

# source_hash DIR -> 12 hex digits over a module's go.mod, go.sum and Go files
source_hash() {
  local src="$1"
  [[ -f "$src/go.mod" ]] || die "no Go module in $src (expected $src/go.mod)"
  (cd "$src" && find . -type f \( -name '*.go' -o -name go.mod -o -name go.sum \) | LC_ALL=C sort \
    | xargs sha256sum | sha256sum | cut -c1-12)
}

# checker_hash NAME -> the source hash of tools/checkers/NAME
checker_hash() { source_hash "$CHECKERS_SRC/$1"; }

checker_dir() { bin_dir "$1" "$(checker_hash "$1")"; }

build_checker() {
  local name="$1" src="$CHECKERS_SRC/$1" hash out tmp
  hash="$(checker_hash "$name")"
  out="$(bin_dir "$name" "$hash")"
  if version_ok "$out/$name" "$name $hash"; then
    log "$name $hash already built"; return 0
  fi
  log "building checker $name ($hash)"
  ensure_toolchain "$(go_line "$src/go.mod")"
  tmp="$out.tmp.$$"
  rm -rf "$tmp"; mkdir -p "$tmp"
  # -mod=readonly: exactly the committed go.sum, never a silent upgrade.
  (cd "$src" && CGO_ENABLED=0 GOFLAGS="-mod=readonly -buildvcs=false" \
    go build -trimpath -ldflags "-s -w -X main.version=$hash" -o "$tmp/$name" .)
  version_ok "$tmp/$name" "$name $hash" || die "built $name does not report $hash"
  finish_install "$tmp" "$out"
  log "$name $hash -> $out"
}

build_checkers() {
  local name
  for name in "${CHECKERS[@]}"; do build_checker "$name"; done
}

is_checker() {
  local name
  for name in "${CHECKERS[@]}"; do [[ "$name" == "$1" ]] && return 0; done
  return 1
}

# ---------------------------------------------------------------------------
# Stand-ins: stackscope's own module under tools/standins/ (go.mod and go.sum committed), built
# static into one directory keyed by its source hash like the checkers (issue 15):
#   standin  one service behaving like any of the platform's five (health JSON, RED metrics with
#            exemplars, OTLP traces, JSON logs, error rate and latency set over HTTP)
#   catcher  Slack webhook, PagerDuty Events v2 and SMTP receivers that record what they get
# ---------------------------------------------------------------------------
STANDINS_SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/standins"
STANDINS_BINARIES=(standin catcher)
standins_dir() { bin_dir standins "$(source_hash "$STANDINS_SRC")"; }

standins_built() {
  local dir hash b; hash="$(source_hash "$STANDINS_SRC")"; dir="$(bin_dir standins "$hash")"
  for b in "${STANDINS_BINARIES[@]}"; do
    version_ok "$dir/$b" "$b $hash" || return 1
  done
}

build_standins() {
  local hash out tmp b pkgs=()
  hash="$(source_hash "$STANDINS_SRC")"
  out="$(bin_dir standins "$hash")"
  if standins_built; then
    log "standins $hash already built"; return 0
  fi
  log "building standins ($hash: ${STANDINS_BINARIES[*]})"
  ensure_toolchain "$(go_line "$STANDINS_SRC/go.mod")"
  tmp="$out.tmp.$$"
  rm -rf "$tmp"; mkdir -p "$tmp"
  for b in "${STANDINS_BINARIES[@]}"; do pkgs+=("./$b"); done
  # -mod=readonly: exactly the committed go.sum, never a silent upgrade.
  (cd "$STANDINS_SRC" && CGO_ENABLED=0 GOFLAGS="-mod=readonly -buildvcs=false" \
    go build -trimpath -ldflags "-s -w -X main.version=$hash" -o "$tmp/" "${pkgs[@]}")
  for b in "${STANDINS_BINARIES[@]}"; do
    version_ok "$tmp/$b" "$b $hash" || die "built $b does not report $hash"
  done
  finish_install "$tmp" "$out"
  log "standins $hash -> $out"
}

# helm: helm.sh/helm/v4/cmd/helm, stamped like upstream's Makefile does for a release tag. The
# end-to-end tests are a Rust crate (e2e/) rather than Kyverno Chainsaw: chainsaw v0.2.12 does not
# compile with Go 1.26 (its runner implements testing's internal testDeps interface, which has
# grown since), after 5 min 24 s of cold downloads and compiling.
helm_dir() { bin_dir helm "$HELM_VERSION"; }
build_helm() {
  local commit stamp="-X helm.sh/helm/v4/internal/version.version=$HELM_VERSION"
  commit="$(mkdir -p "$SRC_DIR" && cd "$SRC_DIR" && module_info helm.sh/helm/v4 "$HELM_VERSION" Hash)"
  stamp+=" -X helm.sh/helm/v4/internal/version.gitCommit=${commit:-unknown}"
  stamp+=" -X helm.sh/helm/v4/internal/version.gitTreeState=clean"
  build_module_tool helm "$HELM_VERSION" helm.sh/helm/v4 "helm.sh/helm/v4/cmd/helm" "$stamp" "" "helm $HELM_VERSION"
}

# prometheus-operator: cmd/operator, built as `operator` and stamped as upstream's Makefile does.
# Upstream replaces its two sub-modules (pkg/apis/monitoring, pkg/client) by relative path; the
# wrapper pins them to the published modules of the same release.
prometheus_operator_dir() { bin_dir prometheus-operator "$PROMETHEUS_OPERATOR_VERSION"; }
build_prometheus_operator() {
  local module=github.com/prometheus-operator/prometheus-operator v="$PROMETHEUS_OPERATOR_VERSION"
  local stamp="-X github.com/prometheus/common/version.Version=${v#v}"
  stamp+=" -X github.com/prometheus/common/version.Branch=HEAD"
  build_module_tool prometheus-operator "$v" "$module" "$module/cmd/operator" "$stamp" \
    "$module/pkg/apis/monitoring => $module/pkg/apis/monitoring $v
$module/pkg/client => $module/pkg/client $v" "operator prometheus-operator, version ${v#v}"
}

# ---------------------------------------------------------------------------
# The node and the images of its pods (tools/node.sh, tools/images.sh).
# ---------------------------------------------------------------------------
# prometheus/common's version stamp, as the Prometheus projects' Makefiles set it.
common_version_stamp() {
  echo "-X github.com/prometheus/common/version.Version=${1#v} -X github.com/prometheus/common/version.Branch=HEAD"
}

coredns_dir() { bin_dir coredns "$COREDNS_VERSION"; }
build_coredns() {
  local commit
  commit="$(mkdir -p "$SRC_DIR" && cd "$SRC_DIR" && module_info github.com/coredns/coredns "$COREDNS_VERSION" Hash)"
  build_module_tool coredns "$COREDNS_VERSION" github.com/coredns/coredns github.com/coredns/coredns \
    "-X github.com/coredns/coredns/coremain.GitCommit=${commit:-unknown}" "" "coredns CoreDNS-${COREDNS_VERSION#v}"
}

# pause: upstream's sandbox process (build/pause/linux/pause.c of the pinned k8s.io/kubernetes
# module), compiled static with upstream's flags. Needs a C compiler and a static libc.
pause_dir() { bin_dir pause "$PAUSE_VERSION"; }
build_pause() {
  local out; out="$(pause_dir)"
  if version_ok "$out/pause" "v$PAUSE_VERSION"; then
    log "pause $PAUSE_VERSION already built"; return 0
  fi
  log "building pause $PAUSE_VERSION"
  command -v cc >/dev/null 2>&1 || die "pause needs a C compiler (apt-get install gcc libc6-dev)"
  local dir tmp
  dir="$(mkdir -p "$SRC_DIR" && cd "$SRC_DIR" && GOFLAGS=-mod=mod go mod download -json "k8s.io/kubernetes@$KUBERNETES_VERSION" \
    | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p' | head -n1)"
  [[ -f "$dir/build/pause/linux/pause.c" ]] || die "no build/pause/linux/pause.c in k8s.io/kubernetes $KUBERNETES_VERSION"
  tmp="$out.tmp.$$"
  rm -rf "$tmp"; mkdir -p "$tmp"
  cc -Os -Wall -Werror -static "-DVERSION=v$PAUSE_VERSION-$KUBERNETES_VERSION" -o "$tmp/pause" "$dir/build/pause/linux/pause.c"
  strip "$tmp/pause" 2>/dev/null || true
  version_ok "$tmp/pause" "v$PAUSE_VERSION" || die "built pause does not report $PAUSE_VERSION"
  finish_install "$tmp" "$out"
  log "pause $PAUSE_VERSION -> $out"
}

node_tools() { echo kubernetes-node coredns pause; }

kube_state_metrics_dir() { bin_dir kube-state-metrics "$KUBE_STATE_METRICS_VERSION"; }
build_kube_state_metrics() {
  local module=k8s.io/kube-state-metrics/v2
  build_module_tool kube-state-metrics "$KUBE_STATE_METRICS_VERSION" "$module" "$module" \
    "$(common_version_stamp "$KUBE_STATE_METRICS_VERSION")" "" \
    "kube-state-metrics ${KUBE_STATE_METRICS_VERSION#v}"
}

node_exporter_dir() { bin_dir node-exporter "$NODE_EXPORTER_VERSION"; }
build_node_exporter() {
  build_module_tool node-exporter "$NODE_EXPORTER_VERSION" github.com/prometheus/node_exporter \
    github.com/prometheus/node_exporter "$(common_version_stamp "$NODE_EXPORTER_VERSION")" "" \
    "node_exporter node_exporter, version ${NODE_EXPORTER_VERSION#v}"
}

# prometheus-config-reloader: cmd/prometheus-config-reloader of prometheus-operator, its two
# sub-modules pinned to the published modules of the same release (as for the operator above).
config_reloader_dir() { bin_dir prometheus-config-reloader "$CONFIG_RELOADER_VERSION"; }
build_config_reloader() {
  local module=github.com/prometheus-operator/prometheus-operator v="$CONFIG_RELOADER_VERSION"
  build_module_tool prometheus-config-reloader "$v" "$module" "$module/cmd/prometheus-config-reloader" \
    "$(common_version_stamp "$v")" \
    "$module/pkg/apis/monitoring => $module/pkg/apis/monitoring $v
$module/pkg/client => $module/pkg/client $v" \
    "prometheus-config-reloader prometheus-config-reloader, version ${v#v}"
}

# thanos: replaces in a dependency's go.mod are ignored, so the wrapper carries Thanos' own. Built
# with Thanos' own tags: it converts Prometheus' labels to its protobuf ones by reinterpreting
# memory, which only holds for the slice layout (`slicelabels`), not for the default strings.
THANOS_TAGS=netgo,slicelabels
thanos_dir() { bin_dir thanos "$THANOS_VERSION-${THANOS_TAGS//,/-}"; }
build_thanos() {
  local upstream
  upstream="$(mkdir -p "$SRC_DIR" && cd "$SRC_DIR" && module_go_mod github.com/thanos-io/thanos "$THANOS_VERSION")"
  build_module_tool thanos "$THANOS_VERSION" github.com/thanos-io/thanos github.com/thanos-io/thanos/cmd/thanos \
    "$(common_version_stamp "$THANOS_VERSION")" "$(upstream_replaces "$upstream")" \
    "thanos thanos, version ${THANOS_VERSION#v}" "$THANOS_TAGS"
}

# Every tool whose binaries tools/images.sh packs into an image (see images.sh for the images).
image_tools() {
  echo prometheus alertmanager jaeger thanos prometheus-config-reloader kube-state-metrics node-exporter coredns pause standins
}

ENABLED_TOOLS=(etcd kubernetes control-plane prometheus alertmanager jaeger engines "${CHECKERS[@]}" checkers helm standins)
ENABLED_TOOLS+=(prometheus-operator)  # the scale run's side by side (issue 7); not part of `all`
# The node and its images (issue 15): node = kubernetes-node + coredns + pause; images = every
# binary tools/images.sh packs.
ENABLED_TOOLS+=(kubernetes-node coredns pause node thanos prometheus-config-reloader)
ENABLED_TOOLS+=(kube-state-metrics node-exporter images)

# print_dirs NAME -> bin dir(s) of a tool
print_dirs() {
  local checker n
  if is_checker "$1"; then checker_dir "$1"; return; fi
  case "$1" in
    etcd) etcd_dir ;;
    kubernetes | kube-apiserver | kube-controller-manager | kubectl) kubernetes_dir ;;
    control-plane) control_plane_dir ;;
    prometheus | promtool) prometheus_dir ;;
    alertmanager | amtool) alertmanager_dir ;;
    jaeger) jaeger_dir ;;
    engines) prometheus_dir; alertmanager_dir; jaeger_dir ;;
    checkers) for checker in "${CHECKERS[@]}"; do checker_dir "$checker"; done ;;
    helm) helm_dir ;;
    standins | standin | catcher) standins_dir ;;
    prometheus-operator) prometheus_operator_dir ;;
    kubernetes-node | kubelet | kube-scheduler | kube-proxy) kubernetes_node_dir ;;
    coredns) coredns_dir ;;
    pause) pause_dir ;;
    node) for n in $(node_tools); do print_dirs "$n"; done ;;
    thanos) thanos_dir ;;
    prometheus-config-reloader) config_reloader_dir ;;
    kube-state-metrics) kube_state_metrics_dir ;;
    node-exporter) node_exporter_dir ;;
    images) for n in $(image_tools); do print_dirs "$n"; done ;;
    *) die "no bin dir for $1" ;;
  esac
}

build_one() {
  local n
  if is_checker "$1"; then build_checker "$1"; return; fi
  case "$1" in
    etcd) build_etcd ;;
    kubernetes | kube-apiserver | kube-controller-manager | kubectl) build_kubernetes ;;
    control-plane) build_control_plane ;;
    prometheus | promtool) build_prometheus ;;
    alertmanager | amtool) build_alertmanager ;;
    jaeger) build_jaeger ;;
    engines) build_prometheus; build_alertmanager; build_jaeger ;;
    checkers) build_checkers ;;
    helm) build_helm ;;
    standins | standin | catcher) build_standins ;;
    prometheus-operator) build_prometheus_operator ;;
    kubernetes-node | kubelet | kube-scheduler | kube-proxy) build_kubernetes_node ;;
    coredns) build_coredns ;;
    pause) build_pause ;;
    node) for n in $(node_tools); do build_one "$n"; done ;;
    thanos) build_thanos ;;
    prometheus-config-reloader) build_config_reloader ;;
    kube-state-metrics) build_kube_state_metrics ;;
    node-exporter) build_node_exporter ;;
    images) for n in $(image_tools); do build_one "$n"; done ;;
    *) die "unknown tool '$1' (known: ${ENABLED_TOOLS[*]})" ;;
  esac
}

usage() {
  sed -n '2,/^set -euo/p' "$0" | sed -e '/^set -euo/d' -e 's/^# \{0,1\}//'
}

main() {
  command -v go >/dev/null 2>&1 || die "go is not on PATH"
  local print_path=0 names=() n
  while (($#)); do
    case "$1" in
      --print-path) print_path=1 ;;
      --list) printf '%s\n' "${ENABLED_TOOLS[@]}"; return 0 ;;
      -h | --help) usage; return 0 ;;
      -*) die "unknown option $1" ;;
      all) names+=(control-plane engines checkers helm standins) ;;
      *) names+=("$1") ;;
    esac
    shift
  done
  ((${#names[@]})) || names=(control-plane)
  with_lock
  for n in "${names[@]}"; do
    if ((print_path)); then
      build_one "$n" >&2
    else
      build_one "$n"
    fi
  done
  for n in "${names[@]}"; do print_dirs "$n"; done
}

main "$@"
