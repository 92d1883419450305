#!/usr/bin/env bash
# Local Kubernetes control plane for stackscope integration tests and `make run`:
# etcd + kube-apiserver + kube-controller-manager (garbage collection of owner
# references, namespaces, service accounts, deployments/replicasets...), all on
# 127.0.0.1 with ports picked free at start. No kubelet/scheduler: pods are
# created but never run.
#
# Usage: tools/control-plane.sh start|stop|status|env|crash COMPONENT
#   start   start (or reuse, if already healthy) and wait for /readyz; prints
#           `export KUBECONFIG=...` lines on stdout (eval-able), logs on stderr
#   stop    stop the processes (pid files) and delete the state except logs/
#   status  show each component; exit 0 only if all are running and healthy
#   env     print the export lines of the running control plane
#   crash C kill -KILL component C (etcd, kube-apiserver, kube-controller-manager) and start
#           it again as it was (same data, port, flags); for fault-injection tests
#   kill C  kill -KILL component C and leave it down (until `revive`)
#   revive  start every component that is down again as it was
#
# Environment:
#   STACKSCOPE_STATE              state dir (default $HOME/.cache/stackscope/control-plane)
#   STACKSCOPE_CONTROL_PLANE_BIN  dir with etcd, kube-apiserver, kube-controller-manager
#                                 (default: `tools/build-tools.sh --print-path control-plane`,
#                                 which builds them on first use)
#   STACKSCOPE_START_TIMEOUT      seconds to wait for each component (default 120)
#   STACKSCOPE_APISERVER_ARGS     extra kube-apiserver flags (space separated)
#   STACKSCOPE_CONTROLLER_MANAGER_ARGS  extra kube-controller-manager flags
#   STACKSCOPE_AUDITED_USERS      space-separated extra identities (each in system:masters, with
#                                 kubeconfig-<user> in the state dir) whose requests the API server
#                                 writes to logs/audit.log (metadata only); the admin's and the
#                                 control plane's own requests are not audited. Default: none, no
#                                 audit log. `make scale` counts each operator's requests with it.
#   STACKSCOPE_AUDITED_GROUPS     space-separated groups whose members' requests are audited the same
#                                 way (e.g. system:serviceaccounts: the end-to-end tests read the
#                                 operator's refused calls from the audit log).
#   Node mode (set by tools/node.sh, which starts the control plane for its node):
#   STACKSCOPE_APISERVER_ADDRESS  address the API server binds and advertises (default 127.0.0.1);
#                                 pods reach it there through the `kubernetes` Service
#   STACKSCOPE_SERVICE_CIDR       Service range (default 10.0.0.0/24)
#   STACKSCOPE_NODE_NAME, STACKSCOPE_NODE_IP  the node: the endpoint reconciler is on (the
#                                 `kubernetes` Service's endpoints point at the advertised address),
#                                 Node+RBAC authorization, the kubelet dialled by InternalIP with a
#                                 verified serving cert, and the node's certificates and kubeconfigs
#                                 (node-<component>.kubeconfig, pki/kubelet.crt) written.
#   A plain start reuses a healthy control plane of either mode; a node-mode start restarts a
#   control plane started with other settings.
#
# Files in the state dir: kubeconfig (admin, user stackscope-admin in group
# system:masters, client certificate), pki/, etcd/, logs/<component>.log,
# <component>.pid, env; with STACKSCOPE_AUDITED_USERS also kubeconfig-<user>,
# audit-policy.yaml and logs/audit.log.
#
# Flags follow controller-runtime envtest's (pkg/internal/testing/controlplane),
# plus: default admission plugins (PodSecurity, ServiceAccount, ...), since the
# controller manager creates the default service accounts; the endpoint
# reconciler is off (the advertised address is loopback); SO_REUSEADDR, so that a restarted
# API server binds its port again at once despite connections in TIME_WAIT.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
STATE="${STACKSCOPE_STATE:-$HOME/.cache/stackscope/control-plane}"
START_TIMEOUT="${STACKSCOPE_START_TIMEOUT:-120}"
HOST=127.0.0.1
API_HOST="${STACKSCOPE_APISERVER_ADDRESS:-$HOST}"
SERVICE_CIDR="${STACKSCOPE_SERVICE_CIDR:-10.0.0.0/24}"
NODE_NAME="${STACKSCOPE_NODE_NAME:-}"
NODE_IP="${STACKSCOPE_NODE_IP:-}"
# What a running control plane was started with (node mode restarts one started otherwise).
MODE="api=$API_HOST services=$SERVICE_CIDR node=${NODE_NAME:-none}@${NODE_IP:-none}"
ADMIN_USER=stackscope-admin
read -r -a AUDITED_USERS <<<"${STACKSCOPE_AUDITED_USERS:-}"
read -r -a AUDITED_GROUPS <<<"${STACKSCOPE_AUDITED_GROUPS:-}"
COMPONENTS=(etcd kube-apiserver kube-controller-manager)

PKI="$STATE/pki"
LOGS="$STATE/logs"
KUBECONFIG_FILE="$STATE/kubeconfig"

log() { echo "control-plane: $*" >&2; }
die() { log "error: $*"; exit 1; }

# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------
# first_ip CIDR -> the first host address of an IPv4 range (the `kubernetes` Service's)
first_ip() {
  local net="${1%/*}"
  [[ "$net" =~ ^([0-9]+\.[0-9]+\.[0-9]+\.)([0-9]+)$ ]] || die "bad IPv4 range '$1'"
  echo "${BASH_REMATCH[1]}$((BASH_REMATCH[2] + 1))"
}
SERVICE_FIRST_IP="$(first_ip "$SERVICE_CIDR")"

need() { command -v "$1" >/dev/null 2>&1 || die "$1 is required${2:+ ($2)}"; }

bin_dir() {
  if [[ -n "${STACKSCOPE_CONTROL_PLANE_BIN:-}" ]]; then
    echo "$STACKSCOPE_CONTROL_PLANE_BIN"
  else
    "$SCRIPT_DIR/build-tools.sh" --print-path control-plane
  fi
}

# free_port [ADDRESS]: a TCP port on ADDRESS (default $HOST) nothing listens on (and not already
# handed out).
PICKED_PORTS=" "
free_port() {
  local p i host="${1:-$HOST}"
  for ((i = 0; i < 50; i++)); do
    if command -v python3 >/dev/null 2>&1; then
      p="$(python3 -c 'import socket,sys; s=socket.socket(); s.bind((sys.argv[1], 0)); print(s.getsockname()[1]); s.close()' "$host")"
    else
      p=$((20000 + RANDOM % 40000))
      # something answers -> in use
      if (exec 3<>"/dev/tcp/$host/$p") 2>/dev/null; then continue; fi
    fi
    [[ "$PICKED_PORTS" == *" $p "* ]] && continue
    PICKED_PORTS+="$p "
    echo "$p"
    return 0
  done
  die "could not find a free port on $host"
}

pid_of() { [[ -f "$STATE/$1.pid" ]] && cat "$STATE/$1.pid" || true; }

# alive NAME: the pid file points at a live process of that binary started for this state dir
alive() {
  local pid cmd
  pid="$(pid_of "$1")"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  [[ -r "/proc/$pid/cmdline" ]] || return 1
  cmd="$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)" || return 1
  [[ "$(basename "${cmd%% *}")" == "$1" && "$cmd" == *"$STATE/"* ]]
}

# port NAME -> recorded port
port_of() { [[ -f "$STATE/$1.port" ]] && cat "$STATE/$1.port" || true; }

healthy() {
  local p
  p="$(port_of "$1")"
  [[ -n "$p" ]] || return 1
  case "$1" in
    etcd)
      curl -fsS -m 3 "http://$HOST:$p/health" 2>/dev/null | grep -q '"health":"true"' ;;
    kube-apiserver)
      [[ "$(curl -fsS -m 5 --cacert "$PKI/ca.crt" --cert "$PKI/admin.crt" --key "$PKI/admin.key" \
        "https://$(api_host):$p/readyz" 2>/dev/null)" == ok ]] ;;
    kube-controller-manager)
      # serving cert is self-signed by the controller manager itself
      [[ "$(curl -fsS -m 3 -k "https://$HOST:$p/healthz" 2>/dev/null)" == ok ]] ;;
  esac
}

# api_host: the address the running API server was started on (status and env of a node-mode
# control plane work without the node's environment).
api_host() {
  if [[ -f "$STATE/kube-apiserver.address" ]]; then cat "$STATE/kube-apiserver.address"; else echo "$API_HOST"; fi
}

all_healthy() {
  local c
  for c in "${COMPONENTS[@]}"; do alive "$c" && healthy "$c" || return 1; done
}

# wait_ready NAME: poll health until START_TIMEOUT; fail early if the process dies.
wait_ready() {
  local name="$1" deadline=$((SECONDS + START_TIMEOUT))
  while ((SECONDS < deadline)); do
    if ! alive "$name"; then
      log "$name exited; last log lines:"
      tail -n 30 "$LOGS/$name.log" >&2 || true
      return 1
    fi
    healthy "$name" && return 0
    sleep 0.5
  done
  log "$name not healthy after ${START_TIMEOUT}s; last log lines:"
  tail -n 30 "$LOGS/$name.log" >&2 || true
  return 1
}

# launch NAME BINARY ARGS...: detached (own session), logs to logs/NAME.log
launch() {
  local name="$1" bin="$2" pid i
  shift 2
  [[ -x "$bin" ]] || die "$bin not found or not executable"
  # setsid does not fork here (a background job of a non-interactive shell is
  # not a process group leader), so $! is the component's pid.
  # fd 9 is the state lock: the long-lived component must not inherit (and hold) it.
  setsid "$bin" "$@" >>"$LOGS/$name.log" 2>&1 </dev/null 9>&- &
  pid=$!
  echo "$pid" >"$STATE/$name.pid"
  # The command line, so that `crash` can start it again exactly so.
  printf '%s\0' "$bin" "$@" >"$STATE/$name.cmdline"
  for ((i = 0; i < 50; i++)); do
    alive "$name" && { log "started $name (pid $pid)"; return 0; }
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  log "$name did not start; last log lines:"
  tail -n 30 "$LOGS/$name.log" >&2 || true
  return 1
}

# ---------------------------------------------------------------------------
# certificates (openssl)
# ---------------------------------------------------------------------------
gen_key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

# new_ca NAME CN: self-signed CA key + cert
new_ca() {
  gen_key "$PKI/$1.key"
  cat >"$PKI/$1.cnf" <<'EOF'
[req]
distinguished_name = dn
[dn]
[v3_ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign,digitalSignature
subjectKeyIdentifier = hash
EOF
  openssl req -x509 -new -key "$PKI/$1.key" -subj "/CN=$2" -days 3650 -sha256 \
    -config "$PKI/$1.cnf" -extensions v3_ca -out "$PKI/$1.crt" 2>/dev/null
  rm -f "$PKI/$1.cnf"
}

# sign NAME SUBJECT EXT_LINES [CA]: key + cert signed by CA (default: ca)
sign() {
  local name="$1" subj="$2" ext="$3" ca="${4:-ca}"
  gen_key "$PKI/$name.key"
  openssl req -new -key "$PKI/$name.key" -subj "$subj" -out "$PKI/$name.csr" 2>/dev/null
  printf '[v3]\n%s\n' "$ext" >"$PKI/$name.ext"
  openssl x509 -req -in "$PKI/$name.csr" -CA "$PKI/$ca.crt" -CAkey "$PKI/$ca.key" \
    -set_serial "0x$(openssl rand -hex 16)" -days 365 -sha256 \
    -extfile "$PKI/$name.ext" -extensions v3 -out "$PKI/$name.crt" 2>/dev/null
  rm -f "$PKI/$name.csr" "$PKI/$name.ext"
}

gen_pki() {
  need openssl "apt-get install openssl"
  mkdir -p "$PKI"
  chmod 700 "$PKI"
  new_ca ca stackscope-local-ca
  # front-proxy (request-header) CA, as kubeadm sets up: lets delegated
  # authentication (controller manager, aggregated API servers) trust the apiserver
  new_ca front-proxy-ca stackscope-front-proxy-ca
  sign apiserver "/CN=kube-apiserver" "basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=IP:$HOST,IP:$API_HOST,IP:$SERVICE_FIRST_IP,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
  local client="basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=clientAuth"
  sign admin "/O=system:masters/CN=$ADMIN_USER" "$client"
  sign controller-manager "/CN=system:kube-controller-manager" "$client"
  sign front-proxy-client "/CN=front-proxy-client" "$client" front-proxy-ca
  [[ -z "$NODE_NAME" ]] || gen_node_pki "$client"
  local user
  for user in "${AUDITED_USERS[@]}"; do
    [[ "$user" =~ ^[a-z0-9][a-z0-9-]*$ ]] || die "audited user '$user': lowercase letters, digits and dashes only"
    sign "user-$user" "/O=system:masters/CN=$user" "$client"
  done
  # service-account token signing key pair
  openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$PKI/sa.key" 2>/dev/null
  openssl pkey -in "$PKI/sa.key" -pubout -out "$PKI/sa.pub" 2>/dev/null
  chmod 600 "$PKI"/*.key
}

# gen_node_pki CLIENT_EXT: the node's identities (node mode): the kubelet's client (Node
# authorizer) and serving certificate (for its InternalIP, which the API server verifies), the
# API server's client certificate for the kubelet, the scheduler's and kube-proxy's.
gen_node_pki() {
  local client="$1"
  [[ -n "$NODE_IP" ]] || die "STACKSCOPE_NODE_NAME needs STACKSCOPE_NODE_IP"
  sign kubelet-client "/O=system:nodes/CN=system:node:$NODE_NAME" "$client"
  sign kubelet "/CN=system:node:$NODE_NAME" "basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=IP:$NODE_IP,DNS:$NODE_NAME"
  # system:masters, as kubeadm's apiserver-kubelet-client: logs, exec, port-forward
  sign apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client" "$client"
  sign kube-scheduler "/CN=system:kube-scheduler" "$client"
  sign kube-proxy "/CN=system:kube-proxy" "$client"
}

# node_apiserver_args: kube-apiserver flags of node mode (none otherwise)
node_apiserver_args() {
  if [[ -z "$NODE_NAME" ]]; then
    # the advertised address is loopback: no endpoints for the `kubernetes` Service
    echo "--endpoint-reconciler-type=none --authorization-mode=RBAC"
    return
  fi
  echo "--endpoint-reconciler-type=lease --authorization-mode=Node,RBAC"
  echo "--kubelet-preferred-address-types=InternalIP"
  echo "--kubelet-certificate-authority=$PKI/ca.crt"
  echo "--kubelet-client-certificate=$PKI/apiserver-kubelet-client.crt"
  echo "--kubelet-client-key=$PKI/apiserver-kubelet-client.key"
}

b64() { base64 <"$1" | tr -d '\n'; }

# write_kubeconfig FILE CERT_NAME USER
write_kubeconfig() {
  local file="$1" cert="$2" user="$3" port
  port="$(port_of kube-apiserver)"
  umask 077
  cat >"$file" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: stackscope
  cluster:
    server: https://$API_HOST:$port
    certificate-authority-data: $(b64 "$PKI/ca.crt")
users:
- name: $user
  user:
    client-certificate-data: $(b64 "$PKI/$cert.crt")
    client-key-data: $(b64 "$PKI/$cert.key")
contexts:
- name: stackscope
  context:
    cluster: stackscope
    user: $user
    namespace: default
current-context: stackscope
EOF
  umask 022
}

print_env() {
  [[ -f "$STATE/env" ]] || die "not running (no $STATE/env); run: $0 start"
  cat "$STATE/env"
}

# ---------------------------------------------------------------------------
# commands
# ---------------------------------------------------------------------------
do_stop() {
  local c pid i
  for ((i = ${#COMPONENTS[@]} - 1; i >= 0; i--)); do
    c="${COMPONENTS[i]}"
    pid="$(pid_of "$c")"
    if alive "$c"; then
      kill -TERM "$pid" 2>/dev/null || true
      local j
      for ((j = 0; j < 100; j++)); do alive "$c" || break; sleep 0.1; done
      if alive "$c"; then
        log "$c (pid $pid) did not exit on TERM; killing"
        kill -KILL "$pid" 2>/dev/null || true
        for ((j = 0; j < 50; j++)); do alive "$c" || break; sleep 0.1; done
      fi
      log "stopped $c (pid $pid)"
    fi
    rm -f "$STATE/$c.pid" "$STATE/$c.port"
  done
  # A node of this control plane (tools/node.sh) goes after it (the API server shuts down at once
  # while its address still exists), unless node.sh itself is starting this control plane (then
  # the node's network is already made for it).
  if [[ -z "$NODE_NAME" && -f "$STATE/node/slot" ]]; then
    "$SCRIPT_DIR/node.sh" teardown 9>&- || log "node teardown failed"
  fi
  # clean up everything but the logs (and the lock)
  rm -rf "$PKI" "$STATE/etcd" "$STATE/kubeconfig" "$STATE/controller-manager.kubeconfig" \
    "$STATE/env" "$STATE/kube-apiserver-certs" "$STATE/kube-controller-manager-certs" \
    "$STATE"/kubeconfig-* "$STATE/audit-policy.yaml" "$STATE"/node-*.kubeconfig "$STATE/mode" "$STATE/audited" \
    "$STATE/kube-apiserver.address"
}

# audit_args: kube-apiserver flags that log the requests of the audited users (none: no flags).
# Metadata level (who, verb, resource, response code), one JSON line per request once its
# response is complete, or once a watch starts.
audit_args() {
  ((${#AUDITED_USERS[@]} + ${#AUDITED_GROUPS[@]})) || return 0
  local user group users="" groups=""
  for user in "${AUDITED_USERS[@]}"; do users+="\"$user\", "; done
  for group in "${AUDITED_GROUPS[@]}"; do groups+="\"$group\", "; done
  {
    echo "apiVersion: audit.k8s.io/v1"
    echo "kind: Policy"
    echo "omitStages: [RequestReceived]"
    echo "rules:"
    [[ -z "$users" ]] || printf -- '- level: Metadata\n  users: [%s]\n' "${users%, }"
    [[ -z "$groups" ]] || printf -- '- level: Metadata\n  userGroups: [%s]\n' "${groups%, }"
    echo "- level: None"
  } >"$STATE/audit-policy.yaml"
  : >"$LOGS/audit.log"
  echo "--audit-policy-file=$STATE/audit-policy.yaml --audit-log-path=$LOGS/audit.log --audit-log-format=json"
  echo "--audit-log-maxsize=0 --audit-log-mode=blocking"
}

fail_start() {
  log "start failed; stopping what was started (logs kept in $LOGS)"
  do_stop
  exit 1
}

do_start() {
  need curl
  local bin
  # An audited start needs an API server writing that audit log: restart one started without.
  local audited="${STACKSCOPE_AUDITED_USERS:-}${STACKSCOPE_AUDITED_GROUPS:-}"
  if all_healthy && { [[ -z "$NODE_NAME" ]] || [[ "$(cat "$STATE/mode" 2>/dev/null)" == "$MODE" ]]; } \
    && { [[ -z "$audited" ]] || [[ "$(cat "$STATE/audited" 2>/dev/null)" == "$audited" ]]; }; then
    log "already running and healthy; reusing"
    print_env
    return 0
  fi
  # something half-running or stale: start from scratch
  do_stop
  bin="$(bin_dir)"
  local c
  for c in "${COMPONENTS[@]}"; do [[ -x "$bin/$c" ]] || die "$bin/$c missing"; done
  mkdir -p "$LOGS" "$STATE/etcd"
  chmod 700 "$STATE/etcd"
  for c in "${COMPONENTS[@]}"; do : >"$LOGS/$c.log"; done
  gen_pki

  local etcd_port etcd_peer api_port kcm_port
  etcd_port="$(free_port)"; etcd_peer="$(free_port)"
  api_port="$(free_port "$API_HOST")"; kcm_port="$(free_port)"
  echo "$MODE" >"$STATE/mode"
  echo "${STACKSCOPE_AUDITED_USERS:-}${STACKSCOPE_AUDITED_GROUPS:-}" >"$STATE/audited"
  echo "$API_HOST" >"$STATE/kube-apiserver.address"
  echo "$etcd_port" >"$STATE/etcd.port"
  echo "$api_port" >"$STATE/kube-apiserver.port"
  echo "$kcm_port" >"$STATE/kube-controller-manager.port"

  launch etcd "$bin/etcd" \
    --name=stackscope \
    --data-dir="$STATE/etcd" \
    --listen-client-urls="http://$HOST:$etcd_port" \
    --advertise-client-urls="http://$HOST:$etcd_port" \
    --listen-peer-urls="http://$HOST:$etcd_peer" \
    --initial-advertise-peer-urls="http://$HOST:$etcd_peer" \
    --initial-cluster="stackscope=http://$HOST:$etcd_peer" \
    --initial-cluster-state=new \
    --unsafe-no-fsync=true || fail_start
  wait_ready etcd || fail_start

  # shellcheck disable=SC2086 # extra args are intentionally word-split
  launch kube-apiserver "$bin/kube-apiserver" \
    --etcd-servers="http://$HOST:$etcd_port" \
    --bind-address="$API_HOST" \
    --advertise-address="$API_HOST" \
    --secure-port="$api_port" \
    --cert-dir="$STATE/kube-apiserver-certs" \
    --tls-cert-file="$PKI/apiserver.crt" \
    --tls-private-key-file="$PKI/apiserver.key" \
    --client-ca-file="$PKI/ca.crt" \
    --requestheader-client-ca-file="$PKI/front-proxy-ca.crt" \
    --requestheader-allowed-names=front-proxy-client \
    --requestheader-username-headers=X-Remote-User \
    --requestheader-group-headers=X-Remote-Group \
    --requestheader-extra-headers-prefix=X-Remote-Extra- \
    --proxy-client-cert-file="$PKI/front-proxy-client.crt" \
    --proxy-client-key-file="$PKI/front-proxy-client.key" \
    --service-cluster-ip-range="$SERVICE_CIDR" \
    --service-account-issuer="https://$API_HOST:$api_port" \
    --service-account-key-file="$PKI/sa.pub" \
    --service-account-signing-key-file="$PKI/sa.key" \
    --allow-privileged=true \
    $(node_apiserver_args) \
    --permit-address-sharing=true \
    --profiling=false \
    $(audit_args) \
    ${STACKSCOPE_APISERVER_ARGS:-} || fail_start
  wait_ready kube-apiserver || fail_start

  write_kubeconfig "$KUBECONFIG_FILE" admin "$ADMIN_USER"
  write_kubeconfig "$STATE/controller-manager.kubeconfig" controller-manager system:kube-controller-manager
  local user
  for user in "${AUDITED_USERS[@]}"; do write_kubeconfig "$STATE/kubeconfig-$user" "user-$user" "$user"; done
  if [[ -n "$NODE_NAME" ]]; then
    write_kubeconfig "$STATE/node-kubelet.kubeconfig" kubelet-client "system:node:$NODE_NAME"
    write_kubeconfig "$STATE/node-kube-scheduler.kubeconfig" kube-scheduler system:kube-scheduler
    write_kubeconfig "$STATE/node-kube-proxy.kubeconfig" kube-proxy system:kube-proxy
  fi

  # shellcheck disable=SC2086
  launch kube-controller-manager "$bin/kube-controller-manager" \
    --kubeconfig="$STATE/controller-manager.kubeconfig" \
    --authentication-kubeconfig="$STATE/controller-manager.kubeconfig" \
    --authorization-kubeconfig="$STATE/controller-manager.kubeconfig" \
    --bind-address="$HOST" \
    --secure-port="$kcm_port" \
    --cert-dir="$STATE/kube-controller-manager-certs" \
    --leader-elect=false \
    --use-service-account-credentials=true \
    --service-account-private-key-file="$PKI/sa.key" \
    --root-ca-file="$PKI/ca.crt" \
    --cluster-signing-cert-file="$PKI/ca.crt" \
    --cluster-signing-key-file="$PKI/ca.key" \
    --cluster-name=stackscope \
    --profiling=false \
    ${STACKSCOPE_CONTROLLER_MANAGER_ARGS:-} || fail_start
  wait_ready kube-controller-manager || fail_start

  cat >"$STATE/env" <<EOF
export KUBECONFIG=$KUBECONFIG_FILE
export STACKSCOPE_APISERVER_URL=https://$API_HOST:$api_port
export STACKSCOPE_ETCD_URL=http://$HOST:$etcd_port
export STACKSCOPE_CONTROL_PLANE_BIN=$bin
EOF
  log "ready: https://$API_HOST:$api_port (logs in $LOGS)"
  print_env
}

# exited PID: the process is gone, or every one of its threads is a zombie: only then has it
# closed its sockets (the main thread turns zombie while the others still exit).
exited() {
  local task
  [[ -e "/proc/$1" ]] || return 0
  for task in /proc/"$1"/task/*; do
    [[ -e "$task" ]] || continue
    grep -q '^State:[[:space:]]*Z' "$task/status" 2>/dev/null || return 1
  done
}

# do_crash NAME: kill -KILL one component (a crash, no shutdown) and start it again with the
# same command line, data and port; waits until it is healthy again. For fault-injection tests.
# do_kill C: SIGKILL component C and wait until it is gone; it stays down.
do_kill() {
  local name="$1" pid i
  [[ " ${COMPONENTS[*]} " == *" $name "* ]] || die "unknown component '$name' (${COMPONENTS[*]})"
  alive "$name" || die "$name is not running"
  [[ -f "$STATE/$name.cmdline" ]] || die "no recorded command line for $name: restart the control plane"
  pid="$(pid_of "$name")"
  kill -KILL "$pid" 2>/dev/null || true
  # Gone means reaped or a zombie: only then are its sockets closed (its command line empties
  # earlier, while it still holds its ports).
  for ((i = 0; i < 200; i++)); do exited "$pid" && break; sleep 0.1; done
  exited "$pid" || die "$name (pid $pid) survived SIGKILL"
  log "killed $name (pid $pid)"
}

# do_revive: start every component that is down again as it was (same data, port, flags), in
# order, each once healthy. What the kubelet does for static pods: a component that exited
# meanwhile (the controller manager exits on the 403s a restarting API server answers before
# its RBAC is loaded) is started again too.
do_revive() {
  local name cmd=()
  for name in "${COMPONENTS[@]}"; do
    if ! alive "$name" && [[ -f "$STATE/$name.cmdline" ]]; then
      mapfile -d '' -t cmd <"$STATE/$name.cmdline"
      log "starting $name again"
      launch "$name" "${cmd[@]}" || die "$name did not start again"
      wait_ready "$name" || die "$name not healthy after the restart"
      log "$name is back"
    fi
  done
}

do_crash() {
  do_kill "$1"
  do_revive
}

do_status() {
  local c ok=0 state
  for c in "${COMPONENTS[@]}"; do
    if alive "$c"; then
      if healthy "$c"; then state=healthy; else state=unhealthy; ok=1; fi
      printf '%-24s pid %-8s port %-6s %s\n' "$c" "$(pid_of "$c")" "$(port_of "$c")" "$state"
    else
      printf '%-24s %s\n' "$c" "not running"
      ok=1
    fi
  done
  [[ -f "$STATE/env" ]] && ((ok == 0)) && echo "KUBECONFIG=$KUBECONFIG_FILE"
  return "$ok"
}

main() {
  local cmd="${1:-}"
  case "$cmd" in
    start | stop | status | env | revive) ;;
    crash | kill) [[ -n "${2:-}" ]] || die "usage: $0 $1 etcd|kube-apiserver|kube-controller-manager" ;;
    -h | --help | help) sed -n '2,/^set -euo/p' "$0" | sed -e '/^set -euo/d' -e 's/^# \{0,1\}//'; return 0 ;;
    *) die "usage: $0 start|stop|status|env|crash COMPONENT|kill COMPONENT|revive" ;;
  esac
  mkdir -p "$STATE"
  # serialize start/stop on the same state dir
  if [[ "$cmd" == start || "$cmd" == stop || "$cmd" == crash || "$cmd" == kill || "$cmd" == revive ]] && command -v flock >/dev/null 2>&1; then
    exec 9>"$STATE/.lock"
    flock 9
  fi
  case "$cmd" in
    start) do_start ;;
    stop) do_stop; log "stopped (logs kept in $LOGS)" ;;
    status) do_status ;;
    env) all_healthy || die "not running or not healthy (see: $0 status)"; print_env ;;
    crash) do_crash "$2" ;;
    kill) do_kill "$2" ;;
    revive) do_revive ;;
  esac
}

main "$@"
