#!/usr/bin/env bash
# A real node for the local cluster: pods run. Starts the control plane (tools/control-plane.sh,
# in node mode) and beside it containerd with runc, the kubelet, kube-scheduler, kube-proxy, the
# bridge CNI plugin, a volume provisioner and CoreDNS, all inside a network namespace of its own.
#
# Usage: tools/node.sh start|stop|status|env
#   start     start (or reuse, if healthy) the control plane and the node, wait until the node is
#             Ready and CoreDNS answers; prints `export ...` lines on stdout (eval-able)
#   stop      stop the control plane, then the node, removing everything it made (containers,
#             mounts, network namespaces, bridge, iptables rules, cgroups, routes, processes)
#   teardown  the node part of stop only (control-plane.sh stop calls it)
#   status    each component; exit 0 only if all run
#   env       the export lines of the running node
#
# Environment:
#   STACKSCOPE_STATE           the control plane's state dir (default as control-plane.sh); the
#                              node's files are in its node/ subdirectory
#   STACKSCOPE_NODE_NETWORK    first two octets of the node's address block (default 10.213)
#   STACKSCOPE_NODE_IMAGES     images to import at start: `all` (default: every image of pinned
#                              binaries in tools/images.sh, i.e. all but stackscope's own, which
#                              `tools/images.sh import <tag>` adds) or `node` (pause and CoreDNS)
#   STACKSCOPE_START_TIMEOUT   seconds to wait for each component (default 120)
#
# Network (see tools/NODE.md): each node takes a free slot N (0-7) of the /16 block P
# (STACKSCOPE_NODE_NETWORK) and a network namespace `stackscope-node-N`. With B = 32*N:
#   P.B.0/30      the link between the machine and the node: P.B.1 on the machine's side is the
#                 API server's address, P.B.2 on the node's side is the node's InternalIP
#   P.(B+1).0/24  pods, on the bridge `stackscope0` inside the namespace (gateway .1)
#   P.(B+16).0/20 Services (the `kubernetes` Service at .1, CoreDNS at .10)
# The machine routes the pod and Service ranges into the namespace; the namespace has no default
# route and nothing masquerades, so nothing a pod sends can leave the machine. Every registry
# name resolves to a loopback endpoint that refuses, so an image that was not imported fails at
# once, locally.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
STATE="${STACKSCOPE_STATE:-$HOME/.cache/stackscope/control-plane}"
NODE="$STATE/node"
LOGS="$NODE/logs"
START_TIMEOUT="${STACKSCOPE_START_TIMEOUT:-120}"
NETWORK="${STACKSCOPE_NODE_NETWORK:-10.213}"
NODE_NAME=stackscope-node
SLOTS=8
COMPONENTS=(containerd kubelet kube-proxy kube-scheduler provisioner)
# The bridge inside the node's namespace, and the StorageClass/provisioner of its volumes.
BRIDGE=stackscope0
STORAGE_CLASS=stackscope-local
PROVISIONER=stackscope.dev/node-local
DNS_NAMESPACE=kube-system
CLUSTER_DOMAIN=cluster.local
PAUSE_IMAGE=registry.k8s.io/pause:3.10.1
COREDNS_IMAGE=registry.k8s.io/coredns/coredns:v1.12.1
# Machine-wide settings the kubelet changes at start (its setupKernelTunables): saved before it
# starts, put back when the node stops.
KERNEL_TUNABLES=(vm.overcommit_memory vm.panic_on_oom kernel.panic kernel.panic_on_oops kernel.keys.root_maxkeys kernel.keys.root_maxbytes)

log() { echo "node: $*" >&2; }
die() { log "error: $*"; exit 1; }

# ---------------------------------------------------------------------------
# Addresses of a slot
# ---------------------------------------------------------------------------
slot() { cat "$NODE/slot" 2>/dev/null || true; }
netns_name() { echo "stackscope-node-$1"; }
host_veth() { echo "ssnode$1"; }
node_veth() { echo "ssnode$1n"; }
base() { echo $(($1 * 32)); }
host_ip() { echo "$NETWORK.$(base "$1").1"; }
node_ip() { echo "$NETWORK.$(base "$1").2"; }
pod_cidr() { echo "$NETWORK.$(($(base "$1") + 1)).0/24"; }
pod_gateway() { echo "$NETWORK.$(($(base "$1") + 1)).1"; }
service_cidr() { echo "$NETWORK.$(($(base "$1") + 16)).0/20"; }
dns_ip() { echo "$NETWORK.$(($(base "$1") + 16)).10"; }
cgroup_root() { echo "/stackscope-node-$1"; }

in_netns() { nsenter --net="/run/netns/$(netns_name "$(slot)")" -- "$@"; }

# ---------------------------------------------------------------------------
# Packages and binaries
# ---------------------------------------------------------------------------
ensure_packages() {
  local missing=() pkg
  command -v containerd >/dev/null 2>&1 && command -v ctr >/dev/null 2>&1 || missing+=(containerd)
  command -v runc >/dev/null 2>&1 || missing+=(runc)
  [[ -x /usr/lib/cni/bridge && -x /usr/lib/cni/host-local && -x /usr/lib/cni/loopback ]] || missing+=(containernetworking-plugins)
  command -v iptables >/dev/null 2>&1 || missing+=(iptables)
  command -v conntrack >/dev/null 2>&1 || missing+=(conntrack)
  command -v nsenter >/dev/null 2>&1 || missing+=(util-linux)
  command -v ip >/dev/null 2>&1 || missing+=(iproute2)
  command -v openssl >/dev/null 2>&1 || missing+=(openssl)
  ((${#missing[@]} == 0)) && return 0
  [[ "$(id -u)" == 0 ]] || die "missing packages (${missing[*]}); the node needs root"
  log "installing ${missing[*]}"
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"; } \
    >"$NODE/apt.log" 2>&1 || { tail -n 20 "$NODE/apt.log" >&2; die "apt-get install ${missing[*]} failed"; }
  for pkg in containerd runc iptables; do command -v "$pkg" >/dev/null 2>&1 || die "$pkg still missing"; done
}

tool_dir() { "$SCRIPT_DIR/build-tools.sh" --print-path "$1" | head -n1; }

# ---------------------------------------------------------------------------
# Processes (pid files in $NODE)
# ---------------------------------------------------------------------------
pid_of() { cat "$NODE/$1.pid" 2>/dev/null || true; }

# alive NAME: the pid file points at a live process of that program started for this node
alive() {
  local pid cmd
  pid="$(pid_of "$1")"
  [[ "$pid" =~ ^[0-9]+$ && -r "/proc/$pid/cmdline" ]] || return 1
  cmd="$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)" || return 1
  [[ "$cmd" == *"$NODE/"* ]]
}

# launch NAME COMMAND...: detached, in its own session, logging to logs/NAME.log
launch() {
  local name="$1" pid i
  shift
  # The locks (fds 7 and 8) stay with this script, not with the long-lived component.
  setsid "$@" >>"$LOGS/$name.log" 2>&1 </dev/null 7>&- 8>&- &
  pid=$!
  echo "$pid" >"$NODE/$name.pid"
  for ((i = 0; i < 50; i++)); do
    alive "$name" && { log "started $name (pid $pid)"; return 0; }
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  tail -n 30 "$LOGS/$name.log" >&2 || true
  die "$name did not start"
}

stop_process() {
  local name="$1" pid j
  pid="$(pid_of "$name")"
  if alive "$name"; then
    kill -TERM "$pid" 2>/dev/null || true
    for ((j = 0; j < 100; j++)); do alive "$name" || break; sleep 0.1; done
    if alive "$name"; then kill -KILL "$pid" 2>/dev/null || true; fi
    for ((j = 0; j < 50; j++)); do alive "$name" || break; sleep 0.1; done
    log "stopped $name (pid $pid)"
  fi
  rm -f "$NODE/$name.pid"
}

# wait_until WHAT COMMAND...: poll until COMMAND succeeds or START_TIMEOUT passes; fails at once
# when a started component has exited.
wait_until() {
  local what="$1" deadline=$((SECONDS + START_TIMEOUT)) c
  shift
  until "$@" >/dev/null 2>&1; do
    for c in "${COMPONENTS[@]}"; do
      if [[ -f "$NODE/$c.pid" ]] && ! alive "$c"; then
        log "$c exited while waiting for $what; last log lines:"
        tail -n 20 "$LOGS/$c.log" >&2 || true
        return 1
      fi
    done
    ((SECONDS < deadline)) || { log "timed out after ${START_TIMEOUT}s waiting for $what"; return 1; }
    sleep 0.5
  done
}

kubectl_() { "$KUBECTL" --kubeconfig "$STATE/kubeconfig" "$@"; }

# ---------------------------------------------------------------------------
# Network
# ---------------------------------------------------------------------------
# claim_slot: the first slot whose namespace does not exist and whose ranges the machine does not
# route, under a machine-wide lock (nodes of other state dirs choose at the same time).
claim_slot() {
  local n
  exec 8>/run/lock/stackscope-node.lock
  flock 8
  for ((n = 0; n < SLOTS; n++)); do
    [[ -e "/run/netns/$(netns_name "$n")" ]] && continue
    [[ -z "$(ip -4 route show to match "$(host_ip "$n")" | grep -v '^default')" ]] || continue
    [[ -z "$(ip -4 addr show to "$NETWORK.$(base "$n").0/19")" ]] || continue
    echo "$n" >"$NODE/slot"
    make_network "$n"
    flock -u 8
    exec 8>&-
    return 0
  done
  die "no free node slot (all $SLOTS network namespaces stackscope-node-* exist)"
}

make_network() {
  local n="$1" ns hv nv
  ns="$(netns_name "$n")"; hv="$(host_veth "$n")"; nv="$(node_veth "$n")"
  ip netns add "$ns"
  ip link add "$hv" type veth peer name "$nv" netns "$ns"
  ip addr add "$(host_ip "$n")/30" dev "$hv"
  ip link set "$hv" up
  ip -n "$ns" addr add "$(node_ip "$n")/30" dev "$nv"
  ip -n "$ns" link set "$nv" up
  ip -n "$ns" link set lo up
  # The machine reaches pods and Services through the node; the node routes only what it holds.
  ip route add "$(pod_cidr "$n")" via "$(node_ip "$n")" dev "$hv"
  ip route add "$(service_cidr "$n")" via "$(node_ip "$n")" dev "$hv"
  nsenter --net="/run/netns/$ns" -- sysctl -qw net.ipv4.ip_forward=1
  # Pod to Service to a pod on the same bridge: kube-proxy's rules must see bridged traffic.
  nsenter --net="/run/netns/$ns" -- sysctl -qw net.bridge.bridge-nf-call-iptables=1
  log "network namespace $ns: node $(node_ip "$n"), API server $(host_ip "$n"), pods $(pod_cidr "$n"), Services $(service_cidr "$n")"
}

remove_network() {
  local n="$1" ns
  ns="$(netns_name "$n")"
  # The veth pair, the bridge, kube-proxy's rules and the routes through the veth go with it.
  if [[ -e "/run/netns/$ns" ]]; then ip netns del "$ns" || log "cannot delete network namespace $ns"; fi
  ip link del "$(host_veth "$n")" 2>/dev/null || true
}

save_kernel_tunables() {
  [[ -f "$NODE/kernel-tunables" ]] && return 0
  sysctl "${KERNEL_TUNABLES[@]}" >"$NODE/kernel-tunables.tmp" && mv "$NODE/kernel-tunables.tmp" "$NODE/kernel-tunables"
}

restore_kernel_tunables() {
  [[ -f "$NODE/kernel-tunables" ]] || return 0
  sysctl -q -p "$NODE/kernel-tunables" >/dev/null || log "cannot restore the kernel settings in $NODE/kernel-tunables"
  rm -f "$NODE/kernel-tunables"
}

# ---------------------------------------------------------------------------
# Configuration files
# ---------------------------------------------------------------------------
write_containerd_config() {
  local n="$1"
  mkdir -p "$NODE/containerd/certs.d/_default" "$NODE/cni/net.d" "$NODE/cni/ipam"
  # Every registry: one endpoint on loopback that refuses, and no fall-back to the real host.
  cat >"$NODE/containerd/certs.d/_default/hosts.toml" <<'EOF'
server = "http://127.0.0.1:1"
[host."http://127.0.0.1:1"]
  capabilities = ["pull", "resolve"]
EOF
  cat >"$NODE/containerd/config.toml" <<EOF
# Written by tools/node.sh.
version = 2
root = "$NODE/containerd/root"
state = "$NODE/containerd/state"
disabled_plugins = ["io.containerd.internal.v1.opt", "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs", "io.containerd.tracing.processor.v1.otlp"]

[grpc]
  address = "$NODE/containerd.sock"
[ttrpc]
  address = "$NODE/containerd.sock.ttrpc"

# The legacy runtime is unused, but containerd 1.6's task service needs it loaded.
[plugins."io.containerd.runtime.v1.linux"]
  runtime_root = "$NODE/containerd/runc-v1"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$PAUSE_IMAGE"
  # This machine refuses to lower a process's OOM score.
  restrict_oom_score_adj = true
  disable_tcp_service = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  netns_mounts_under_state_dir = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = "$NODE/containerd/runc"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$NODE/cni/net.d"
    max_conf_num = 1
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "$NODE/containerd/certs.d"
EOF
  cat >"$NODE/cni/net.d/10-stackscope.conflist" <<EOF
{
  "cniVersion": "0.4.0",
  "name": "stackscope",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "$BRIDGE",
      "isGateway": true,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "ranges": [[{"subnet": "$(pod_cidr "$n")", "gateway": "$(pod_gateway "$n")"}]],
        "routes": [{"dst": "0.0.0.0/0"}],
        "dataDir": "$NODE/cni/ipam"
      }
    }
  ]
}
EOF
}

write_kubelet_config() {
  local n="$1"
  mkdir -p "$NODE/kubelet" "$NODE/pod-logs" "$NODE/volume-plugins"
  # Pods with dnsPolicy Default (CoreDNS itself) get this; nothing outside the node answers.
  echo "nameserver 127.0.0.1" >"$NODE/resolv.conf"
  cat >"$NODE/kubelet.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: $(node_ip "$n")
port: 10250
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $STATE/pki/ca.crt}
authorization: {mode: Webhook}
tlsCertFile: $STATE/pki/kubelet.crt
tlsPrivateKeyFile: $STATE/pki/kubelet.key
cgroupDriver: cgroupfs
# The machine has hybrid cgroups (v1 controllers, v2 unified): the kubelet runs on v1.
failCgroupV1: false
cgroupRoot: $(cgroup_root "$n")
failSwapOn: false
clusterDNS: [$(dns_ip "$n")]
clusterDomain: $CLUSTER_DOMAIN
resolvConf: $NODE/resolv.conf
podLogsDir: $NODE/pod-logs
volumePluginDir: $NODE/volume-plugins
containerRuntimeEndpoint: unix://$NODE/containerd.sock
# Imported images cannot be pulled again: never collect them, never evict for a full disk.
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard: {memory.available: 100Mi, nodefs.available: 1%, imagefs.available: 1%, nodefs.inodesFree: 1%}
serializeImagePulls: false
EOF
  cat >"$NODE/kube-proxy.yaml" <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: {kubeconfig: $STATE/node-kube-proxy.kubeconfig}
hostnameOverride: $NODE_NAME
mode: iptables
clusterCIDR: $(pod_cidr "$n")
bindAddress: $(node_ip "$n")
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
nodePortAddresses: [$(node_ip "$n")/32]
# Machine-wide conntrack settings stay as they are.
conntrack: {maxPerCore: 0, min: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s}
iptables: {masqueradeAll: false, minSyncPeriod: 0s, syncPeriod: 30s}
EOF
}

# ---------------------------------------------------------------------------
# Start
# ---------------------------------------------------------------------------
node_ready() {
  [[ "$(kubectl_ get node "$NODE_NAME" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}')" == True ]]
}

coredns_ready() {
  [[ "$(kubectl_ -n "$DNS_NAMESPACE" get deployment coredns -o jsonpath='{.status.readyReplicas}')" == 1 ]]
}

apply_cluster_objects() {
  local n="$1" binding
  # The binding mode cannot change in place; a class of an earlier version of this script goes.
  binding="$(kubectl_ get storageclass "$STORAGE_CLASS" -o jsonpath='{.volumeBindingMode}' 2>/dev/null || true)"
  if [[ -n "$binding" && "$binding" != WaitForFirstConsumer ]]; then
    kubectl_ delete storageclass "$STORAGE_CLASS" >/dev/null
  fi
  kubectl_ apply -f - >/dev/null <<EOF
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: $STORAGE_CLASS
  annotations: {storageclass.kubernetes.io/is-default-class: "true"}
provisioner: $PROVISIONER
reclaimPolicy: Delete
# Bound when the first pod using a claim is scheduled, as local volumes should be: with
# Immediate, a pod created with its claim before the provisioner bound it was left
# unschedulable ("unbound immediate PersistentVolumeClaims") until the scheduler's next
# five-minute retry.
volumeBindingMode: WaitForFirstConsumer
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: coredns, namespace: $DNS_NAMESPACE}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: "stackscope:coredns"}
rules:
- apiGroups: [""]
  resources: [endpoints, services, pods, namespaces]
  verbs: [list, watch]
- apiGroups: [discovery.k8s.io]
  resources: [endpointslices]
  verbs: [list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: "stackscope:coredns"}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: "stackscope:coredns"}
subjects: [{kind: ServiceAccount, name: coredns, namespace: $DNS_NAMESPACE}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: coredns, namespace: $DNS_NAMESPACE}
data:
  # Cluster names only: no forward plugin, so no query leaves the node.
  Corefile: |
    .:53 {
        errors
        health :8080
        ready :8181
        kubernetes $CLUSTER_DOMAIN in-addr.arpa ip6.arpa {
            pods insecure
            fallthrough in-addr.arpa ip6.arpa
        }
        prometheus :9153
        cache 30
        loop
        reload
    }
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: coredns
  namespace: $DNS_NAMESPACE
  labels: {k8s-app: kube-dns}
spec:
  replicas: 1
  selector: {matchLabels: {k8s-app: kube-dns}}
  template:
    metadata: {labels: {k8s-app: kube-dns}}
    spec:
      serviceAccountName: coredns
      dnsPolicy: Default
      priorityClassName: system-cluster-critical
      securityContext:
        runAsNonRoot: true
        runAsUser: 65532
        runAsGroup: 65532
        seccompProfile: {type: RuntimeDefault}
        # Port 53 without capabilities.
        sysctls: [{name: net.ipv4.ip_unprivileged_port_start, value: "53"}]
      containers:
      - name: coredns
        image: $COREDNS_IMAGE
        imagePullPolicy: IfNotPresent
        args: [-conf, /etc/coredns/Corefile]
        ports:
        - {name: dns, containerPort: 53, protocol: UDP}
        - {name: dns-tcp, containerPort: 53, protocol: TCP}
        - {name: metrics, containerPort: 9153, protocol: TCP}
        livenessProbe:
          httpGet: {path: /health, port: 8080}
          periodSeconds: 10
        readinessProbe:
          httpGet: {path: /ready, port: 8181}
          periodSeconds: 2
        securityContext:
          allowPrivilegeEscalation: false
          readOnlyRootFilesystem: true
          capabilities: {drop: [ALL]}
        volumeMounts: [{name: config, mountPath: /etc/coredns, readOnly: true}]
      volumes: [{name: config, configMap: {name: coredns}}]
---
apiVersion: v1
kind: Service
metadata:
  name: kube-dns
  namespace: $DNS_NAMESPACE
  labels: {k8s-app: kube-dns}
spec:
  clusterIP: $(dns_ip "$n")
  selector: {k8s-app: kube-dns}
  ports:
  - {name: dns, port: 53, protocol: UDP}
  - {name: dns-tcp, port: 53, protocol: TCP}
  - {name: metrics, port: 9153, protocol: TCP}
EOF
}

print_env() {
  [[ -f "$NODE/env" ]] || die "no node running (no $NODE/env); run: $0 start"
  "$SCRIPT_DIR/control-plane.sh" env
  cat "$NODE/env"
}

all_alive() {
  local c
  [[ -n "$(slot)" && -e "/run/netns/$(netns_name "$(slot)")" ]] || return 1
  for c in "${COMPONENTS[@]}"; do alive "$c" || return 1; done
}

do_start() {
  mkdir -p "$NODE" "$LOGS"
  if all_alive && "$SCRIPT_DIR/control-plane.sh" status >/dev/null 2>&1 && KUBECTL="$(cat "$NODE/kubectl")" node_ready; then
    log "already running; reusing"
    print_env
    return 0
  fi
  [[ "$(id -u)" == 0 ]] || die "the node needs root (network namespaces, mounts, cgroups)"
  do_teardown
  ensure_packages
  local kube coredns_dir n
  kube="$(tool_dir kubernetes-node)"
  # the images pause and CoreDNS need
  tool_dir coredns >/dev/null
  tool_dir pause >/dev/null
  for c in "${COMPONENTS[@]}"; do : >"$LOGS/$c.log"; done
  claim_slot
  n="$(slot)"

  # The control plane, its API server on the machine's end of the node's link.
  local exports
  exports="$(STACKSCOPE_APISERVER_ADDRESS="$(host_ip "$n")" STACKSCOPE_SERVICE_CIDR="$(service_cidr "$n")" \
    STACKSCOPE_NODE_NAME="$NODE_NAME" STACKSCOPE_NODE_IP="$(node_ip "$n")" \
    "$SCRIPT_DIR/control-plane.sh" start 7>&-)" || fail_start
  KUBECTL="$(sed -n 's/^export STACKSCOPE_CONTROL_PLANE_BIN=//p' <<<"$exports")/kubectl"
  echo "$KUBECTL" >"$NODE/kubectl"

  write_containerd_config "$n"
  write_kubelet_config "$n"
  local netns="/run/netns/$(netns_name "$n")"
  launch containerd nsenter --net="$netns" -- containerd --config "$NODE/containerd/config.toml" || fail_start
  wait_until "containerd" ctr --address "$NODE/containerd.sock" version || fail_start
  local images=("$PAUSE_IMAGE" "$COREDNS_IMAGE")
  if [[ "${STACKSCOPE_NODE_IMAGES:-all}" != node ]]; then
    # every image of pinned binaries; stackscope's own follows the source (tools/images.sh import)
    mapfile -t images < <("$SCRIPT_DIR/images.sh" list | awk -F'\t' '$2 != "stackscope" { print $1 }')
  fi
  STACKSCOPE_CONTAINERD="$NODE/containerd.sock" "$SCRIPT_DIR/images.sh" import "${images[@]}" >&2 || fail_start
  # The kubelet's cgroups live under a root of this node's own.
  local hierarchy
  for hierarchy in /sys/fs/cgroup/*/; do
    [[ -d "$hierarchy" ]] && mkdir -p "$hierarchy$(cgroup_root "$n")"
  done

  # A mount a container receives with HostToContainer propagation (node-exporter's view of the
  # root file system) must come from a shared or slave mount; systemd hosts share / by default,
  # containers and chroots often keep it private, and runc then refuses the container. Left
  # shared on stop: other nodes may rely on it, and it is the usual state of a Linux host.
  if [[ "$(findmnt -no PROPAGATION / 2>/dev/null)" == private ]]; then
    log "making / a shared mount (runc needs it for HostToContainer propagation)"
    mount --make-rshared /
  fi
  save_kernel_tunables
  launch kubelet nsenter --net="$netns" -- "$kube/kubelet" \
    --config="$NODE/kubelet.yaml" \
    --kubeconfig="$STATE/node-kubelet.kubeconfig" \
    --root-dir="$NODE/kubelet" \
    --cert-dir="$NODE/kubelet/pki" \
    --hostname-override="$NODE_NAME" \
    --node-ip="$(node_ip "$n")" || fail_start
  launch kube-proxy nsenter --net="$netns" -- "$kube/kube-proxy" --config="$NODE/kube-proxy.yaml" || fail_start
  launch kube-scheduler nsenter --net="$netns" -- "$kube/kube-scheduler" \
    --kubeconfig="$STATE/node-kube-scheduler.kubeconfig" \
    --authentication-kubeconfig="$STATE/node-kube-scheduler.kubeconfig" \
    --authorization-kubeconfig="$STATE/node-kube-scheduler.kubeconfig" \
    --cert-dir="$NODE/kube-scheduler-certs" --bind-address=127.0.0.1 --leader-elect=false || fail_start
  launch provisioner "$SCRIPT_DIR/node-provisioner.sh" "$STATE/kubeconfig" "$KUBECTL" "$NODE/volumes" \
    "$NODE_NAME" "$PROVISIONER" || fail_start

  wait_until "node $NODE_NAME Ready" node_ready || fail_start
  apply_cluster_objects "$n" || fail_start
  wait_until "CoreDNS ready" coredns_ready || fail_start

  cat >"$NODE/env" <<EOF
export STACKSCOPE_NODE_NAME=$NODE_NAME
export STACKSCOPE_NODE_IP=$(node_ip "$n")
export STACKSCOPE_NODE_NETNS=$(netns_name "$n")
export STACKSCOPE_POD_CIDR=$(pod_cidr "$n")
export STACKSCOPE_SERVICE_CIDR=$(service_cidr "$n")
export STACKSCOPE_CLUSTER_DNS=$(dns_ip "$n")
export STACKSCOPE_CONTAINERD=$NODE/containerd.sock
export STACKSCOPE_STORAGE_CLASS=$STORAGE_CLASS
EOF
  log "ready: node $NODE_NAME ($(node_ip "$n")), logs in $LOGS"
  print_env
}

fail_start() {
  log "start failed; stopping what was started (logs kept in $LOGS)"
  do_teardown
  "$SCRIPT_DIR/control-plane.sh" stop >/dev/null 2>&1 7>&- || true
  exit 1
}

# ---------------------------------------------------------------------------
# Stop
# ---------------------------------------------------------------------------
# mounts_under DIR: mount points below DIR, deepest first
mounts_under() { awk -v d="$1/" 'index($5, d) == 1 { print $5 }' /proc/self/mountinfo | sort -r; }

do_teardown() {
  local n c address="$NODE/containerd.sock" id ids=()
  n="$(slot)"
  for c in provisioner kube-scheduler kube-proxy kubelet; do stop_process "$c"; done
  # Every container of the node, killed and removed through containerd, then containerd itself.
  if alive containerd && [[ -S "$address" ]]; then
    for id in $(ctr --address "$address" -n k8s.io tasks ls -q 2>/dev/null); do
      ctr --address "$address" -n k8s.io tasks kill -s SIGKILL "$id" >/dev/null 2>&1 || true
    done
    for id in $(ctr --address "$address" -n k8s.io tasks ls -q 2>/dev/null); do
      wait_until "task $id to exit" task_stopped "$address" "$id" || true
      ctr --address "$address" -n k8s.io tasks delete -f "$id" >/dev/null 2>&1 || true
    done
    mapfile -t ids < <(ctr --address "$address" -n k8s.io containers ls -q 2>/dev/null)
    for id in "${ids[@]}"; do
      ctr --address "$address" -n k8s.io containers delete "$id" >/dev/null 2>&1 || true
    done
  fi
  stop_process containerd
  # Shims and container processes left over (containerd killed before it deleted them).
  local pid
  for pid in $(pgrep -f "containerd-shim-runc-v2 .*-address $NODE/containerd.sock" 2>/dev/null || true); do
    kill -KILL "$pid" 2>/dev/null || true
  done
  local mount
  for mount in $(mounts_under "$NODE"); do umount -l "$mount" 2>/dev/null || log "cannot unmount $mount"; done
  if [[ -n "$n" ]]; then
    remove_network "$n"
    remove_cgroups "$n"
    restore_kernel_tunables
    # libcni's cache of the results of this node's sandboxes (bridge and loopback networks)
    rm -f /var/lib/cni/results/stackscope-* 2>/dev/null || true
    for id in "${ids[@]}"; do rm -f /var/lib/cni/results/*-"$id"-* 2>/dev/null || true; done
  fi
  # The kubelet's links to container logs point into this node's pod-logs directory.
  if [[ -d /var/log/containers ]]; then
    find /var/log/containers -maxdepth 1 -type l -lname "$NODE/*" -delete 2>/dev/null || true
    rmdir /var/log/containers 2>/dev/null || true
  fi
  # Everything but the image store (kept, so a restart imports nothing) and the logs.
  rm -rf "$NODE/kubelet" "$NODE/containerd/state" "$NODE/containerd/runc" "$NODE/containerd/runc-v1" "$NODE/cni" "$NODE/volumes" \
    "$NODE/pod-logs" "$NODE/volume-plugins" "$NODE/kube-scheduler-certs" "$NODE/env" \
    "$NODE/containerd.sock.ttrpc" "$NODE/containerd.sock" "$NODE/kubelet.yaml" "$NODE/kube-proxy.yaml" "$NODE/resolv.conf" "$NODE/slot" "$NODE/kubectl"
}

task_stopped() {
  [[ "$(ctr --address "$1" -n k8s.io tasks ls 2>/dev/null | awk -v id="$2" '$1 == id { print $3 }')" != RUNNING ]]
}

# remove_cgroups SLOT: the node's cgroup trees, deepest first (empty once its processes are gone)
remove_cgroups() {
  local root hierarchy dir
  root="$(cgroup_root "$1")"
  for hierarchy in /sys/fs/cgroup/*/; do
    [[ -d "$hierarchy${root#/}" ]] || continue
    while IFS= read -r dir; do
      rmdir "$dir" 2>/dev/null || log "cannot remove cgroup $dir"
    done < <(find "$hierarchy${root#/}" -depth -type d)
  done
}

do_status() {
  local c ok=0
  for c in "${COMPONENTS[@]}"; do
    if alive "$c"; then printf '%-16s pid %s\n' "$c" "$(pid_of "$c")"; else printf '%-16s not running\n' "$c"; ok=1; fi
  done
  [[ -n "$(slot)" ]] && echo "network namespace $(netns_name "$(slot)")"
  "$SCRIPT_DIR/control-plane.sh" status || ok=1
  return "$ok"
}

main() {
  local cmd="${1:-}"
  case "$cmd" in
    start | stop | teardown | status | env) ;;
    -h | --help | help) sed -n '2,/^set -euo/p' "$0" | sed -e '/^set -euo/d' -e 's/^# \{0,1\}//'; return 0 ;;
    *) die "usage: $0 start|stop|teardown|status|env" ;;
  esac
  mkdir -p "$NODE"
  if [[ "$cmd" == start || "$cmd" == stop ]]; then
    exec 7>"$NODE/.lock"
    flock 7
  fi
  case "$cmd" in
    start) do_start ;;
    # The control plane stops first and then tears the node down (control-plane.sh stop).
    stop) "$SCRIPT_DIR/control-plane.sh" stop 7>&-; do_teardown; log "stopped (logs kept in $LOGS)" ;;
    teardown) do_teardown ;;
    status) do_status ;;
    env) all_alive || die "no node running (see: $0 status)"; print_env ;;
  esac
}

main "$@"
