#!/usr/bin/env bash
# Container images without a container engine: image archives (Docker archive format, which
# `ctr images import` and `docker load` both read) written from the pinned static binaries that
# tools/build-tools.sh built, named with the exact tags the rendered manifests reference, and
# imported into the local node's containerd (tools/node.sh).
#
# Usage:
#   tools/images.sh build [TAG...]     write the archives (all images, or those tags); prints paths
#   tools/images.sh import [TAG...]    build, then import into the node's containerd (skips an
#                                      image whose archive is already imported)
#   tools/images.sh list               the images this script knows: tag and tool
#   tools/images.sh rootfs TAG DIR     stage one image's files in DIR (the Dockerfile's recipe)
#   tools/images.sh config TAG         one image's config JSON (without the layer digest)
#   tools/images.sh image --tag NAME:TAG --file SRC=/DEST [--file ...] --entrypoint /DEST \
#       [--arg A ...] [--user UID] [--port N/tcp ...] [--workdir DIR] [--dir DIR ...] [--out FILE]
#                                      one archive of any binaries (stand-ins, tests): prints its path
#
# Environment:
#   STACKSCOPE_TOOLS             the tool cache (archives go to its images/ directory)
#   STACKSCOPE_CONTAINERD        containerd socket to import into (default: the running node's,
#                                from `tools/node.sh env`)
#   STACKSCOPE_STACKSCOPE_BIN    a static stackscope binary for stackscope's own image (default:
#                                built with `cargo build --release` and a static C runtime)
#
# Reproducible: the same binaries give the same bytes (entries sorted, owners numeric, every mtime
# 0, no creation time in the config). Each image is one layer: the binaries, /etc/passwd and
# /etc/group naming root, nobody and the image's user, the machine's CA bundle, a world-writable
# /tmp and the image's data directories owned by its user. The layout (paths, entrypoint, user,
# ports, working directory) follows each upstream image, so the rendered args work unchanged.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$SCRIPT_DIR/.." && pwd)"
TOOLS_DIR="${STACKSCOPE_TOOLS:-$HOME/.cache/stackscope/tools}"
ARCHIVES="$TOOLS_DIR/images"
# The bundle Debian's ca-certificates installs; images carry it when present.
CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt

log() { echo "images: $*" >&2; }
# Staging directories of archives being written, removed on exit whatever happens.
WORK_DIRS=()
cleanup() { ((${#WORK_DIRS[@]} == 0)) || rm -rf "${WORK_DIRS[@]}"; }
trap cleanup EXIT
die() { log "error: $*"; exit 1; }

# ---------------------------------------------------------------------------
# The images. One line each, fields separated by `|`:
#   tag | tool:binary=/path ... | entrypoint (JSON array) | default args (JSON array) | user |
#   ports | working directory | directories owned by the user
# `tool` is a tools/build-tools.sh name; `stackscope` is the operator's own static build.
# ---------------------------------------------------------------------------
image_table() {
  local stackscope_tag
  stackscope_tag="$(stackscope_image)"
  cat <<EOF
prom/prometheus:v3.7.3 | prometheus:prometheus=/bin/prometheus | ["/bin/prometheus"] | ["--config.file=/etc/prometheus/prometheus.yml","--storage.tsdb.path=/prometheus"] | 65534 | 9090/tcp | /prometheus | /prometheus /etc/prometheus
prom/alertmanager:v0.29.0 | alertmanager:alertmanager=/bin/alertmanager | ["/bin/alertmanager"] | ["--config.file=/etc/alertmanager/alertmanager.yml","--storage.path=/alertmanager"] | 65534 | 9093/tcp | /alertmanager | /alertmanager /etc/alertmanager
quay.io/thanos/thanos:v0.40.1 | thanos:thanos=/bin/thanos | ["/bin/thanos"] | [] | 1001 | 10901/tcp 10902/tcp | / |
jaegertracing/jaeger:2.11.0 | jaeger:jaeger=/cmd/jaeger/jaeger-linux | ["/cmd/jaeger/jaeger-linux"] | [] | 10001 | 4317/tcp 4318/tcp 5778/tcp 13133/tcp 16685/tcp 16686/tcp | / |
quay.io/prometheus-operator/prometheus-config-reloader:v0.86.1 | prometheus-config-reloader:prometheus-config-reloader=/bin/prometheus-config-reloader | ["/bin/prometheus-config-reloader"] | [] | 65534 | 8080/tcp | / |
registry.k8s.io/kube-state-metrics/kube-state-metrics:v2.18.0 | kube-state-metrics:kube-state-metrics=/kube-state-metrics | ["/kube-state-metrics","--port=8080","--telemetry-port=8081"] | [] | 65534 | 8080/tcp 8081/tcp | / |
prom/node-exporter:v1.10.2 | node-exporter:node_exporter=/bin/node_exporter | ["/bin/node_exporter"] | [] | 65534 | 9100/tcp | / |
registry.k8s.io/coredns/coredns:v1.12.1 | coredns:coredns=/coredns | ["/coredns"] | [] | 65532 | 53/tcp 53/udp 9153/tcp | / |
registry.k8s.io/pause:3.10.1 | pause:pause=/pause | ["/pause"] | [] | 65535 | | / |
stackscope/standin:dev | standins:standin=/bin/standin | ["/bin/standin"] | [] | 65532 | 8000/tcp 8001/tcp 8011/tcp 8012/tcp 8013/tcp | / |
stackscope/catcher:dev | standins:catcher=/bin/catcher | ["/bin/catcher"] | [] | 65532 | 8080/tcp 2525/tcp | / |
$stackscope_tag | stackscope:stackscope=/stackscope | ["/stackscope"] | ["run"] | 65532 | 8080/tcp | / |
EOF
}

# stackscope's own image: the chart's repository at its appVersion (what `helm install` pulls).
stackscope_image() {
  local repository version
  repository="$(sed -n 's/^[[:space:]]*repository:[[:space:]]*\([^[:space:]#]*\).*/\1/p' "$REPO/charts/stackscope/values.yaml" | head -n1)"
  version="$(sed -n 's/^appVersion:[[:space:]]*"\{0,1\}\([^"[:space:]]*\)"\{0,1\}.*/\1/p' "$REPO/charts/stackscope/Chart.yaml")"
  [[ -n "$repository" && -n "$version" ]] || die "cannot read the image repository and appVersion of charts/stackscope"
  echo "$repository:$version"
}

trim() { local s="$1"; s="${s#"${s%%[![:space:]]*}"}"; echo "${s%"${s##*[![:space:]]}"}"; }

# ---------------------------------------------------------------------------
# Binaries
# ---------------------------------------------------------------------------
declare -A TOOL_DIRS=()
tool_dir() {
  if [[ -z "${TOOL_DIRS[$1]:-}" ]]; then
    local dir
    dir="$("$SCRIPT_DIR/build-tools.sh" --print-path "$1")" || die "cannot build $1"
    TOOL_DIRS[$1]="${dir%%$'\n'*}"
  fi
  echo "${TOOL_DIRS[$1]}"
}

# The operator, statically linked (glibc's static libraries; TLS is rustls, no OpenSSL), so the
# image needs no C library. Built once per source state by cargo.
stackscope_binary() {
  if [[ -n "${STACKSCOPE_STACKSCOPE_BIN:-}" ]]; then echo "$STACKSCOPE_STACKSCOPE_BIN"; return; fi
  local target
  target="$(rustc -vV | sed -n 's/^host: //p')"
  log "building the static stackscope binary (cargo build --release, target $target)"
  (cd "$REPO" && RUSTFLAGS="-C target-feature=+crt-static" nice -n 10 cargo build --release -p stackscope \
    --target "$target" >&2) || die "cargo build of the static stackscope binary failed"
  echo "$REPO/target/$target/release/stackscope"
}

# source_of TOOL BINARY -> path of the binary
source_of() {
  local path
  if [[ "$1" == stackscope ]]; then
    path="$(stackscope_binary)"
  else
    path="$(tool_dir "$1")/$2"
  fi
  [[ -x "$path" ]] || die "$path is missing"
  echo "$path"
}

# ---------------------------------------------------------------------------
# Writing one archive
# ---------------------------------------------------------------------------
# Deterministic tar of a directory's contents: sorted, numeric owners as staged, mtime 0.
det_tar() {
  local dir="$1" out="$2"
  (cd "$dir" && LC_ALL=C find . -mindepth 1 -printf '%P\n' | LC_ALL=C sort \
    | tar --format=gnu --no-recursion --numeric-owner --mtime=@0 --null -T <(tr '\n' '\0') -cf "$out")
}

json_string() {
  local s="$1"
  s="${s//\\/\\\\}"; s="${s//\"/\\\"}"
  printf '"%s"' "$s"
}

# stage_rootfs ROOTFS TAG USER DIRS FILE...: the image's files in an (empty) directory
#   FILE: SRC=/DEST (copied with mode 0755); DIRS: space separated, owned by USER
stage_rootfs() {
  local rootfs="$1" tag="$2" user="$3" dirs="$4" spec src dest dir
  shift 4
  [[ "$user" =~ ^[0-9]+$ ]] || die "$tag: user must be numeric, got '$user'"
  mkdir -p "$rootfs/etc" "$rootfs/tmp"
  chmod 1777 "$rootfs/tmp"
  for spec in "$@"; do
    src="${spec%%=*}"; dest="${spec#*=}"
    [[ "$dest" == /* && -f "$src" ]] || die "$tag: bad file '$spec' (SRC=/DEST, SRC a file)"
    mkdir -p "$rootfs$(dirname "$dest")"
    cp "$src" "$rootfs$dest"
    chmod 0755 "$rootfs$dest"
    # Debug information has no use in an image (the release profile keeps line tables).
    if command -v readelf >/dev/null 2>&1 && readelf -S "$rootfs$dest" 2>/dev/null | grep -q '\.debug_'; then
      strip --strip-debug "$rootfs$dest" || die "$tag: cannot strip $dest"
    fi
  done
  {
    echo "root:x:0:0:root:/root:/sbin/nologin"
    echo "nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin"
    [[ "$user" == 0 || "$user" == 65534 ]] || echo "app:x:$user:$user:app:/nonexistent:/sbin/nologin"
  } >"$rootfs/etc/passwd"
  {
    echo "root:x:0:"
    echo "nogroup:x:65534:"
    [[ "$user" == 0 || "$user" == 65534 ]] || echo "app:x:$user:"
  } >"$rootfs/etc/group"
  chmod 0644 "$rootfs/etc/passwd" "$rootfs/etc/group"
  if [[ -f "$CA_BUNDLE" ]]; then
    mkdir -p "$rootfs/etc/ssl/certs"
    cp "$CA_BUNDLE" "$rootfs/etc/ssl/certs/ca-certificates.crt"
    chmod 0644 "$rootfs/etc/ssl/certs/ca-certificates.crt"
  fi
  for dir in $dirs; do
    mkdir -p "$rootfs$dir"
    chown "$user:$user" "$rootfs$dir"
    chmod 0755 "$rootfs$dir"
  done
  find "$rootfs" -type d -exec chmod go-w,a+rx {} + && chmod 1777 "$rootfs/tmp"
  for dir in $dirs; do chown "$user:$user" "$rootfs$dir"; done
}

# image_config TAG ENTRYPOINT_JSON ARGS_JSON USER PORTS WORKDIR LAYER_SHA: the image's config JSON
image_config() {
  local tag="$1" entrypoint="$2" args="$3" user="$4" ports="$5" workdir="$6" layer_sha="$7" port ports_json="" config
  for port in $ports; do ports_json+="${ports_json:+,}$(json_string "$port"):{}"; done
  config="{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{\"User\":\"$user:$user\""
  config+=",\"Env\":[\"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\"]"
  config+=",\"Entrypoint\":$entrypoint"
  [[ "$args" != "[]" ]] && config+=",\"Cmd\":$args"
  [[ -n "$ports_json" ]] && config+=",\"ExposedPorts\":{$ports_json}"
  config+=",\"WorkingDir\":$(json_string "$workdir")"
  config+=",\"Labels\":{\"org.opencontainers.image.title\":$(json_string "${tag%:*}"),\"org.opencontainers.image.version\":$(json_string "${tag##*:}")}}"
  config+=",\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"sha256:$layer_sha\"]}}"
  printf '%s' "$config"
}

# write_image OUT TAG ENTRYPOINT_JSON ARGS_JSON USER PORTS WORKDIR DIRS FILE...
#   FILE: SRC=/DEST (copied with mode 0755); PORTS, DIRS: space separated
write_image() {
  local out="$1" tag="$2" entrypoint="$3" args="$4" user="$5" ports="$6" workdir="$7" dirs="$8"
  shift 8
  [[ "$tag" == *:* ]] || die "image tag '$tag' has no :version"
  local work rootfs
  work="$(mktemp -d "${TMPDIR:-/tmp}/stackscope-image.XXXXXX")"
  WORK_DIRS+=("$work")
  rootfs="$work/rootfs"
  stage_rootfs "$rootfs" "$tag" "$user" "$dirs" "$@"
  mkdir -p "$work/archive"
  det_tar "$rootfs" "$work/layer.tar"
  local layer_sha config_sha
  layer_sha="$(sha256sum "$work/layer.tar" | cut -d' ' -f1)"
  image_config "$tag" "$entrypoint" "$args" "$user" "$ports" "$workdir" "$layer_sha" >"$work/config.json"
  config_sha="$(sha256sum "$work/config.json" | cut -d' ' -f1)"
  mkdir -p "$work/archive/$layer_sha"
  mv "$work/layer.tar" "$work/archive/$layer_sha/layer.tar"
  mv "$work/config.json" "$work/archive/$config_sha.json"
  printf '[{"Config":"%s.json","RepoTags":[%s],"Layers":["%s/layer.tar"]}]' \
    "$config_sha" "$(json_string "$tag")" "$layer_sha" >"$work/archive/manifest.json"
  chown -R 0:0 "$work/archive/manifest.json" "$work/archive/$config_sha.json"
  mkdir -p "$(dirname "$out")"
  det_tar "$work/archive" "$out.tmp.$$"
  mv "$out.tmp.$$" "$out"
  rm -rf "$work"
}

# archive_path TAG INPUT_HASH -> where the archive of these inputs lives
archive_path() { echo "$ARCHIVES/$(tr '/:' '__' <<<"$1")-$2.tar"; }

# parse_line LINE: the fields of a table line into tag, entrypoint, args, user, ports, workdir,
# dirs and file_args (SRC=/DEST of each binary, built if needed), in the caller's locals.
parse_line() {
  local files spec tool binary dest src
  IFS='|' read -r tag files entrypoint args user ports workdir dirs <<<"$1"
  tag="$(trim "$tag")"; entrypoint="$(trim "$entrypoint")"; args="$(trim "$args")"
  user="$(trim "$user")"; ports="$(trim "$ports")"; workdir="$(trim "$workdir")"; dirs="$(trim "$dirs")"
  file_args=()
  for spec in $files; do
    tool="${spec%%:*}"; binary="${spec#*:}"; dest="${binary#*=}"; binary="${binary%%=*}"
    # a plain assignment, so that a failed build stops the script (errexit)
    src="$(source_of "$tool" "$binary")"
    file_args+=("$src=$dest")
  done
}

# build_table_image LINE -> archive path (built unless the same inputs were built before)
build_table_image() {
  local line="$1" tag entrypoint args user ports workdir dirs file_args spec sums
  parse_line "$line"
  # Inputs: the line itself, the binaries' and the CA bundle's bytes, and this script.
  sums="$( { echo "$line"; for spec in "${file_args[@]}"; do sha256sum "${spec%%=*}" | cut -d' ' -f1; done
    [[ -f "$CA_BUNDLE" ]] && sha256sum "$CA_BUNDLE" | cut -d' ' -f1; sha256sum "$0" | cut -d' ' -f1; } \
    | sha256sum | cut -c1-16)"
  local out; out="$(archive_path "$tag" "$sums")"
  if [[ ! -f "$out" ]]; then
    log "writing $tag"
    # older archives of the same image
    rm -f "$ARCHIVES/$(tr '/:' '__' <<<"$tag")"-*.tar
    write_image "$out" "$tag" "$entrypoint" "$args" "$user" "$ports" "$workdir" "$dirs" "${file_args[@]}"
  fi
  echo "$out"
}

# selected_lines TAG... -> table lines of those tags (all without tags)
selected_lines() {
  local table tag found
  table="$(image_table)"
  if (($# == 0)); then echo "$table"; return; fi
  for tag in "$@"; do
    found="$(awk -F'|' -v t="$tag" '{ x = $1; gsub(/[[:space:]]/, "", x); if (x == t) print }' <<<"$table")"
    [[ -n "$found" ]] || die "unknown image $tag (see: $0 list)"
    echo "$found"
  done
}

containerd_address() {
  if [[ -n "${STACKSCOPE_CONTAINERD:-}" ]]; then echo "$STACKSCOPE_CONTAINERD"; return; fi
  "$SCRIPT_DIR/node.sh" env | sed -n 's/^export STACKSCOPE_CONTAINERD=//p'
}

# import_archive ADDRESS ARCHIVE TAG: import unless the image already carries this archive's name
import_archive() {
  local address="$1" archive="$2" tag="$3" name stamp have
  name="$tag"
  # containerd stores Docker Hub names fully qualified
  [[ "${tag%%/*}" == *.* ]] || name="docker.io/$tag"
  stamp="$(basename "$archive" .tar)"
  have="$(ctr --address "$address" -n k8s.io images ls "name==$name" 2>/dev/null | awk 'NR > 1 { print $NF }')"
  if [[ "$have" == *"stackscope.dev/archive=$stamp"* ]]; then
    log "$tag already imported"; return 0
  fi
  log "importing $tag"
  ctr --address "$address" -n k8s.io images import "$archive" >/dev/null \
    || die "ctr images import $archive failed"
  ctr --address "$address" -n k8s.io images label "$name" "stackscope.dev/archive=$stamp" >/dev/null \
    || die "cannot label $name"
}

main() {
  local cmd="${1:-}"
  shift || true
  case "$cmd" in
    build)
      local line
      while IFS= read -r line; do build_table_image "$line"; done < <(selected_lines "$@")
      ;;
    import)
      command -v ctr >/dev/null 2>&1 || die "ctr is missing (tools/node.sh installs containerd)"
      local address line archive tag
      address="$(containerd_address)"
      [[ -S "$address" ]] || die "no containerd at $address (start the node: tools/node.sh start)"
      while IFS= read -r line; do
        archive="$(build_table_image "$line")"
        tag="$(trim "${line%%|*}")"
        import_archive "$address" "$archive" "$tag"
      done < <(selected_lines "$@")
      ;;
    rootfs)
      # The files of one image of the table in a directory (the Dockerfile's build stage).
      (($# == 2)) || die "usage: $0 rootfs TAG DIR"
      local tag entrypoint args user ports workdir dirs file_args
      parse_line "$(selected_lines "$1")"
      [[ ! -e "$2" || -z "$(ls -A "$2")" ]] || die "$2 is not empty"
      stage_rootfs "$2" "$tag" "$user" "$dirs" "${file_args[@]}"
      ;;
    config)
      # One image's config (without its layer digest), as the archive carries it.
      (($# == 1)) || die "usage: $0 config TAG"
      local tag files entrypoint args user ports workdir dirs
      IFS='|' read -r tag files entrypoint args user ports workdir dirs <<<"$(selected_lines "$1")"
      image_config "$(trim "$tag")" "$(trim "$entrypoint")" "$(trim "$args")" "$(trim "$user")" "$(trim "$ports")" \
        "$(trim "$workdir")" ""
      echo
      ;;
    list)
      image_table | awk -F'|' '{ t = $1; gsub(/[[:space:]]/, "", t); split($2, f, ":"); gsub(/[[:space:]]/, "", f[1]); print t "\t" f[1] }'
      ;;
    image)
      local tag="" files=() entrypoint="" args=() user=65532 ports="" workdir=/ dirs="" out="" a
      while (($#)); do
        case "$1" in
          --tag) tag="$2"; shift ;;
          --file) files+=("$2"); shift ;;
          --entrypoint) entrypoint="$2"; shift ;;
          --arg) args+=("$2"); shift ;;
          --user) user="$2"; shift ;;
          --port) ports+="${ports:+ }$2"; shift ;;
          --workdir) workdir="$2"; shift ;;
          --dir) dirs+="${dirs:+ }$2"; shift ;;
          --out) out="$2"; shift ;;
          *) die "image: unknown option $1" ;;
        esac
        shift
      done
      [[ -n "$tag" && -n "$entrypoint" && ${#files[@]} -gt 0 ]] || die "image needs --tag, --file and --entrypoint"
      local args_json=""
      for a in "${args[@]}"; do args_json+="${args_json:+,}$(json_string "$a")"; done
      [[ -n "$out" ]] || out="$ARCHIVES/$(tr '/:' '__' <<<"$tag").tar"
      write_image "$out" "$tag" "[$(json_string "$entrypoint")]" "[$args_json]" "$user" "$ports" "$workdir" "$dirs" "${files[@]}"
      echo "$out"
      ;;
    -h | --help | help | "") sed -n '2,/^set -euo/p' "$0" | sed -e '/^set -euo/d' -e 's/^# \{0,1\}//' ;;
    *) die "unknown command $cmd (build, import, list, image)" ;;
  esac
}

main "$@"
