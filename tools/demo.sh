#!/usr/bin/env bash
# `make run`: the main job end to end on this machine.
#
#   1. a local control plane (etcd, kube-apiserver, kube-controller-manager; tools/control-plane.sh)
#   2. the CRDs (crds/), the example MachineAvatars stack and its five ServiceMonitors, and
#      stand-in workloads for the monitored services (examples/workloads/)
#   3. the operator (`stackscope run`) reconciling them, in the background
#   4. the stack's status: Applied, Ready (whether its workloads run: without a node the pods never
#      do, and Ready stays False with each workload's reason), monitors, components, probe findings
#   5. drift: one owned ConfigMap edited by hand, reported and (driftPolicy: Correct) put back
#
# The control plane and the operator keep running afterwards so that you can explore with the
# kubectl and KUBECONFIG it prints; `make stop` ends both.
#
# Environment: STACKSCOPE_BIN (default target/debug/stackscope), STACKSCOPE_STATE (control plane
# state, default ~/.cache/stackscope/control-plane), STACKSCOPE_OPERATOR_PORT (default 8080).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
BIN="${STACKSCOPE_BIN:-$ROOT/target/debug/stackscope}"
STATE="${STACKSCOPE_STATE:-$HOME/.cache/stackscope/control-plane}"
PORT="${STACKSCOPE_OPERATOR_PORT:-8080}"
STACK_NS=observability
STACK=machineavatars

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
die() { echo "run: error: $*" >&2; exit 1; }

# wait_until SECONDS DESCRIPTION COMMAND...: poll COMMAND until it succeeds or time runs out.
wait_until() {
  local seconds="$1" what="$2" deadline
  shift 2
  deadline=$((SECONDS + seconds))
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || die "timed out after ${seconds}s waiting for $what"
    sleep 0.5
  done
}

[[ -x "$BIN" ]] || die "$BIN is missing: run 'cargo build -p stackscope' (make run does)"

say "Local control plane (built from pinned Go modules on first use; see tools/build-tools.sh)"
eval "$(tools/control-plane.sh start)"
KUBECTL="$STACKSCOPE_CONTROL_PLANE_BIN/kubectl"
k() { "$KUBECTL" "$@"; }
k version 2>/dev/null | sed 's/^/  /'

say "CRDs from crds/ (generated from the Rust types)"
k apply --server-side -f crds/
k wait --for=condition=Established --timeout=60s crd/observabilitystacks.stackscope.dev crd/servicemonitors.stackscope.dev

say "The example: workloads of the monitored services, the ServiceMonitors, the stack"
k apply --server-side -f examples/workloads/machineavatars.yaml
k create namespace "$STACK_NS" --dry-run=client -o yaml | k apply --server-side -f -
k apply --server-side -f examples/machineavatars/

say "The operator (stackscope run), logs in $STATE/logs/operator.log"
if [[ -f "$STATE/operator.pid" ]] && kill -0 "$(cat "$STATE/operator.pid")" 2>/dev/null; then
  kill "$(cat "$STATE/operator.pid")" 2>/dev/null || true
  wait_until 20 "the previous operator to stop" bash -c "! kill -0 $(cat "$STATE/operator.pid") 2>/dev/null"
fi
mkdir -p "$STATE/logs"
KUBECONFIG="$KUBECONFIG" setsid "$BIN" run --listen "127.0.0.1:$PORT" >>"$STATE/logs/operator.log" 2>&1 </dev/null &
echo $! >"$STATE/operator.pid"
wait_until 60 "the operator's /ready" curl -fsS "http://127.0.0.1:$PORT/ready"
echo "  /health: $(curl -fsS "http://127.0.0.1:$PORT/health")"
echo "  /ready:  $(curl -fsS "http://127.0.0.1:$PORT/ready")"

say "Waiting for the stack's configuration to be applied (Ready means its workloads run)"
k wait --for=condition=Applied --timeout=120s -n "$STACK_NS" "observabilitystack/$STACK"
k get observabilitystacks,servicemonitors -A
echo "Conditions:"
k get observabilitystack "$STACK" -n "$STACK_NS" \
  -o jsonpath='{range .status.conditions[*]}{"  "}{.type}{"\t"}{.status}{"\t"}{.reason}{"\n"}{end}'

say "What the operator created (label stackscope.dev/stack=$STACK)"
k get configmaps,services,serviceaccounts,statefulsets,deployments,daemonsets,persistentvolumeclaims \
  -n "$STACK_NS" -l "stackscope.dev/stack=$STACK"
k get clusterroles,clusterrolebindings -l "stackscope.dev/stack=$STACK"
echo
echo "Components (status.components: objects, ready, reason):"
k get observabilitystack "$STACK" -n "$STACK_NS" \
  -o jsonpath='{range .status.components[*]}{"  "}{.name}{"\t"}{.objects}{"\t"}{.ready}{"\t"}{.reason}{"\n"}{end}'
echo "Scrape jobs in prometheus.yml:"
k get configmap "$STACK-prometheus" -n "$STACK_NS" -o jsonpath='{.data.prometheus\.yml}' \
  | grep -o 'job_name: serviceMonitor/[^ ]*' | sed 's/^/  /' || true

say "Probes of the monitored workloads (probes.policy: Report)"
k get observabilitystack "$STACK" -n "$STACK_NS" \
  -o jsonpath='{range .status.probeFindings[*]}{"  "}{.workload}{" "}{.probe}{": "}{.state}{" "}{.detail}{"\n"}{end}'

say "Drift: editing the owned ConfigMap $STACK-loki by hand"
k patch configmap "$STACK-loki" -n "$STACK_NS" --type merge \
  -p '{"data":{"loki.yaml":"# edited by hand\nauth_enabled: true\n"}}'
drift_seen() {
  k get observabilitystack "$STACK" -n "$STACK_NS" -o jsonpath='{.status.drift[*].object}' | grep -q "$STACK-loki"
}
wait_until 60 "the drift to be reported" drift_seen
k get observabilitystack "$STACK" -n "$STACK_NS" \
  -o jsonpath='{range .status.drift[*]}{"  "}{.object}{" "}{.path}{" corrected="}{.corrected}{" since "}{.since}{"\n"}{end}'
restored() {
  k get configmap "$STACK-loki" -n "$STACK_NS" -o jsonpath='{.data.loki\.yaml}' | grep -q 'retention_period'
}
wait_until 60 "the ConfigMap to be restored (driftPolicy: Correct)" restored
echo "  restored: loki.yaml carries retention_period again"
k get events -n "$STACK_NS" --field-selector reason=Drifted -o custom-columns=REASON:.reason,MESSAGE:.message --no-headers \
  | cut -c1-160 | sed 's/^/  /'

say "stackscope drift (read-only report for pipelines: exit 0 in sync, 1 drift)"
KUBECONFIG="$KUBECONFIG" "$BIN" drift -n "$STACK_NS" || true

cat <<EOF

The control plane and the operator keep running. Try:
  export KUBECONFIG=$KUBECONFIG
  $KUBECTL get obs -A
  $KUBECTL get observabilitystack $STACK -n $STACK_NS -o yaml
  curl -s http://127.0.0.1:$PORT/metrics | grep ^stackscope_
  tail -f $STATE/logs/operator.log
Stop everything with: make stop
EOF
