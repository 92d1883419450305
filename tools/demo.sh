#!/usr/bin/env bash
# `make run`: the main job end to end on this machine, live.
#
#   1. the local cluster with a real node (tools/node.sh: control plane, containerd, kubelet,
#      kube-proxy, CoreDNS; images built from the pinned binaries, never pulled)
#   2. stackscope installed from its chart (`helm upgrade --install`), running in a pod from its
#      own image (tools/images.sh builds it from a static build of this tree)
#   3. the receivers' catcher, the five stand-in services, the example's ServiceMonitors and the
#      example stack adapted to one small node (examples/node/stack.yaml)
#   4. the stack's pods Ready, Prometheus scraping the five services, one alert (the gateway
#      switched to 25% errors) delivered to its receivers, one trace found in Jaeger by the id an
#      exemplar gives
#   5. drift: a container argument edited by hand, reported and put back
#
# Everything keeps running afterwards, to explore with the kubectl and KUBECONFIG it prints;
# `make stop` ends it. Environment: STACKSCOPE_STATE (default ~/.cache/stackscope/control-plane).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export STACKSCOPE_STATE="${STACKSCOPE_STATE:-$HOME/.cache/stackscope/control-plane}"
STACK_NS=observability
APPS_NS=machineavatars
STACK=machineavatars
RELEASE_NS=stackscope-system
STARTED=$SECONDS

say() { printf '\n\033[1m== %s\033[0m  (%ss)\n' "$*" "$((SECONDS - STARTED))"; }
die() { echo "run: error: $*" >&2; exit 1; }

# wait_until SECONDS DESCRIPTION COMMAND...: poll COMMAND until it succeeds or time runs out.
wait_until() {
  local seconds="$1" what="$2" deadline
  shift 2
  deadline=$((SECONDS + seconds))
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || die "timed out after ${seconds}s waiting for $what"
    sleep 1
  done
}

# json EXPRESSION: evaluates a Python expression over the JSON document on stdin (`d`).
json() { python3 -c "import json, sys; d = json.load(sys.stdin); print($1)"; }

say "The local cluster with a node (tools/node.sh; tools and images built once, then reused)"
eval "$(tools/node.sh start)"
KUBECTL="$STACKSCOPE_CONTROL_PLANE_BIN/kubectl"
k() { "$KUBECTL" "$@"; }
k get nodes -o wide | sed 's/^/  /'

say "stackscope's image, from a static build of this tree"
IMAGE="$(tools/images.sh list | awk -F'\t' '$2 == "stackscope" { print $1 }')"
imported="$(STACKSCOPE_CONTAINERD="$STACKSCOPE_CONTAINERD" tools/images.sh import "$IMAGE" 2>&1)" \
  || { echo "$imported" >&2; die "cannot build or import $IMAGE"; }
echo "$imported" | grep -v '^\s*\(Compiling\|Finished\)' | sed 's/^/  /'
# The same tag for every build: the image's archive name (its content digest) in a pod annotation
# makes a new build roll the operator's Deployment.
ARCHIVE="$(ctr --address "$STACKSCOPE_CONTAINERD" -n k8s.io images ls "name==$IMAGE" \
  | awk 'NR > 1 { print $NF }' | sed -n 's/.*stackscope.dev\/archive=\([^,]*\).*/\1/p')"

say "helm upgrade --install stackscope charts/stackscope"
HELM="$(tools/build-tools.sh --print-path helm | head -n1)/helm"
"$HELM" upgrade --install stackscope charts/stackscope --namespace "$RELEASE_NS" --create-namespace \
  --set image.pullPolicy=Never --set-string "podAnnotations.stackscope\.dev/archive=$ARCHIVE" \
  --wait --timeout 120s | sed -n '1,6s/^/  /p'
k rollout status deployment/stackscope -n "$RELEASE_NS" --timeout=120s | sed 's/^/  /'

say "The catcher, the five stand-in services, the ServiceMonitors and the stack"
k create namespace "$STACK_NS" --dry-run=client -o yaml | k apply --server-side --field-manager=make-run -f - | sed 's/^/  /'
for manifest in examples/workloads/catchers.yaml examples/workloads/machineavatars.yaml \
  examples/machineavatars/monitors.yaml examples/node/; do
  k apply --server-side --field-manager=make-run -f "$manifest" | sed 's/^/  /'
done

say "Waiting for the stack to be Ready (its workloads' pods running and passing their probes)"
if ! k wait --for=condition=Ready --timeout=300s -n "$STACK_NS" "observabilitystack/$STACK" >/dev/null; then
  k get observabilitystack "$STACK" -n "$STACK_NS" \
    -o jsonpath='{range .status.components[*]}{"  "}{.name}{"\t"}{.ready}{"\t"}{.reason}{"\t"}{.message}{"\n"}{end}'
  die "the stack did not become Ready"
fi
k get pods -n "$STACK_NS" -o wide | sed 's/^/  /'
echo "Conditions:"
k get observabilitystack "$STACK" -n "$STACK_NS" \
  -o jsonpath='{range .status.conditions[*]}{"  "}{.type}{"\t"}{.status}{"\t"}{.reason}{"\n"}{end}'
for ns in "$APPS_NS" catchers; do
  k wait --for=condition=Ready pods --all -n "$ns" --timeout=120s >/dev/null
done
echo "Pods Ready: $(k get pods -A --no-headers | awk '$3 ~ /^[0-9]+\/[0-9]+$/ { split($3, r, "/"); if (r[1] == r[2]) n++ } END { print n+0 }') of $(k get pods -A --no-headers | wc -l)"

service_address() { # NAMESPACE NAME PORT_NAME -> ip:port
  k get service "$2" -n "$1" -o jsonpath="{.spec.clusterIP}:{.spec.ports[?(@.name==\"$3\")].port}"
}
PROMETHEUS="$(service_address "$STACK_NS" "$STACK-prometheus" http)"
JAEGER="$(service_address "$STACK_NS" "$STACK-jaeger" query-http)"
CATCHER="$(service_address catchers catcher http)"

say "Prometheus' targets (configured only by the operator, discovered through the API server)"
targets_up() {
  curl -fsS "http://$PROMETHEUS/api/v1/targets?state=active" | json '
    all(t["health"] == "up" for t in d["data"]["activeTargets"] if t["scrapePool"].startswith("serviceMonitor/"))
    and len({t["scrapePool"] for t in d["data"]["activeTargets"] if t["scrapePool"].startswith("serviceMonitor/")}) >= 5' \
    | grep -qx True
}
wait_until 120 "the five services' targets up" targets_up
curl -fsS "http://$PROMETHEUS/api/v1/targets?state=active" | json '"\n".join(sorted(
  "  %-52s %-5s %s" % (t["scrapePool"], t["health"], t["scrapeUrl"]) for t in d["data"]["activeTargets"]))'

say "One alert: the gateway fails 25% of its requests"
curl -fsS -X DELETE "http://$CATCHER/received" >/dev/null # what an earlier run left
for ip in $(k get pods -n "$APPS_NS" -l app=gateway -o jsonpath='{.items[*].status.podIP}'); do
  curl -fsS -X POST -H 'Content-Type: application/json' -d '{"errorRate":0.25}' "http://$ip:8000/control" >/dev/null
done
# HighErrorRate's channels in the document: email and Slack.
delivered() {
  curl -fsS "http://$CATCHER/received" | json '
    {r["receiver"] for r in d if "FIRING: HighErrorRate" in (
      r["payload"]["attachments"][0]["title"] if r["receiver"] == "slack" else
      r["payload"]["subject"] if r["receiver"] == "email" else "")} == {"slack", "email"}' | grep -qx True
}
wait_until 240 "HighErrorRate at the Slack and email catchers" delivered
echo "What the receivers got (the catcher's record):"
curl -fsS "http://$CATCHER/received" | json '"\n".join(
  "  %-9s %s %s" % (r["receiver"],
    r["payload"]["attachments"][0]["title"] if r["receiver"] == "slack" else
    r["payload"]["payload"]["summary"] if r["receiver"] == "pagerduty" else
    r["payload"]["subject"] + " -> " + ",".join(r["envelope"]["rcptTo"]) if r["receiver"] == "email" else
    r["payload"].get("commonLabels", {}).get("alertname", ""), r["time"]) for r in d)'
for ip in $(k get pods -n "$APPS_NS" -l app=gateway -o jsonpath='{.items[*].status.podIP}'); do
  curl -fsS -X POST -H 'Content-Type: application/json' -d '{"errorRate":0}' "http://$ip:8000/control" >/dev/null
done

say "One trace: the newest exemplar's trace id, found in Jaeger"
now="$(date +%s)"
TRACE="$(curl -fsS -G "http://$PROMETHEUS/api/v1/query_exemplars" \
  --data-urlencode "query=http_request_duration_seconds_bucket{service=\"gateway\"}" \
  --data-urlencode "start=$((now - 300))" --data-urlencode "end=$now" \
  | json '(sorted((e["timestamp"], e["labels"]["trace_id"]) for s in d["data"] for e in s["exemplars"]) or [(0, "")])[-1][1]')"
[[ -n "$TRACE" ]] || die "Prometheus returned no exemplar of the gateway"
# The gateway's span ends after the auth service's, so its batch may arrive second.
trace_found() {
  curl -fsS "http://$JAEGER/api/traces/$TRACE" \
    | json 'sorted({p["serviceName"] for p in d["data"][0]["processes"].values()}) == ["auth-service", "gateway"]' \
    | grep -qx True
}
wait_until 60 "trace $TRACE in Jaeger, from the gateway and the auth service" trace_found
curl -fsS "http://$JAEGER/api/traces/$TRACE" | json '"  trace %s: %d spans from %s" % (d["data"][0]["traceID"],
  len(d["data"][0]["spans"]), ", ".join(sorted({p["serviceName"] for p in d["data"][0]["processes"].values()})))'

say "Drift: a container argument of $STACK-kube-state-metrics edited by hand"
k patch deployment "$STACK-kube-state-metrics" -n "$STACK_NS" --type json \
  -p '[{"op": "add", "path": "/spec/template/spec/containers/0/args/-", "value": "--log-level=debug"}]' | sed 's/^/  /'
drift_corrected() {
  k get observabilitystack "$STACK" -n "$STACK_NS" -o jsonpath='{range .status.drift[*]}{.object} {.corrected}{"\n"}{end}' \
    | grep -q "kube-state-metrics true"
}
wait_until 60 "the drift to be reported and corrected" drift_corrected
k get observabilitystack "$STACK" -n "$STACK_NS" \
  -o jsonpath='{range .status.drift[*]}{"  "}{.object}{" "}{.path}{" corrected="}{.corrected}{"\n"}{end}'
k rollout status deployment/"$STACK-kube-state-metrics" -n "$STACK_NS" --timeout=120s | sed 's/^/  /'

cat <<EOF

Live in $((SECONDS - STARTED)) s. Everything keeps running. Try:
  export KUBECONFIG=$KUBECONFIG
  $KUBECTL get observabilitystack $STACK -n $STACK_NS -o yaml
  curl -s http://$PROMETHEUS/api/v1/alerts
  curl -s http://$CATCHER/received
  curl -s http://$JAEGER/api/services
  $KUBECTL logs -n $RELEASE_NS deploy/stackscope
No image, so not running: Loki, Promtail and Grafana (AGPL source; see tools/NODE.md).
Stop everything with: make stop
EOF
