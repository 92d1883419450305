#!/usr/bin/env bash
# The local node's volume provisioner (started and stopped by tools/node.sh): every pending claim
# of a StorageClass whose provisioner is PROVISIONER gets a `local` PersistentVolume in a new
# directory under DIR, bound to that claim; a released volume of it is deleted with its
# directory. `local` rather than `hostPath`, so the kubelet applies the pod's fsGroup.
#
# Usage: tools/node-provisioner.sh KUBECONFIG KUBECTL DIR NODE_NAME PROVISIONER
#
# Kubernetes' own hostPath provisioner (kube-controller-manager --enable-hostpath-provisioner)
# makes its directories 0750 root under the machine's /tmp, which no non-root pod can write.
set -uo pipefail

KUBECONFIG_FILE="$1" KUBECTL="$2" DIR="$3" NODE_NAME="$4" PROVISIONER="$5"
INTERVAL=1

k() { "$KUBECTL" --kubeconfig "$KUBECONFIG_FILE" "$@"; }
log() { echo "$(date -u +%FT%TZ) $*"; }

provision() {
  local namespace="$1" claim="$2" uid="$3" class="$4" size="$5" modes="$6" path mode_list="" m
  path="$DIR/$uid"
  for m in ${modes:-ReadWriteOnce}; do mode_list+="${mode_list:+, }$m"; done
  mkdir -p "$path" && chmod 0777 "$path" || { log "cannot create $path"; return 1; }
  k create -f - >/dev/null <<EOF || { log "cannot create the volume of $namespace/$claim"; return 1; }
apiVersion: v1
kind: PersistentVolume
metadata:
  name: pvc-$uid
  annotations: {pv.kubernetes.io/provisioned-by: "$PROVISIONER"}
spec:
  capacity: {storage: "$size"}
  accessModes: [$mode_list]
  volumeMode: Filesystem
  persistentVolumeReclaimPolicy: Delete
  storageClassName: "$class"
  claimRef: {namespace: "$namespace", name: "$claim", uid: "$uid"}
  local: {path: "$path"}
  nodeAffinity:
    required:
      nodeSelectorTerms:
      - matchExpressions: [{key: kubernetes.io/hostname, operator: In, values: ["$NODE_NAME"]}]
EOF
  log "provisioned pvc-$uid for $namespace/$claim ($size, class $class)"
}

release() {
  local name="$1" path="$2"
  k delete pv "$name" --wait=false >/dev/null || return 1
  [[ "$path" == "$DIR/"* ]] && rm -rf "$path"
  log "deleted released $name"
}

mkdir -p "$DIR"
log "provisioning class(es) of $PROVISIONER into $DIR for node $NODE_NAME"
while true; do
  classes=" $(k get storageclass -o jsonpath="{range .items[?(@.provisioner==\"$PROVISIONER\")]}{.metadata.name}{\" \"}{end}" 2>/dev/null) "
  # `|` separates (a tab is whitespace to `read`, and runs of it would swallow empty fields).
  while IFS='|' read -r namespace claim uid class size volume modes; do
    [[ -n "$uid" && -z "$volume" && "$classes" == *" $class "* ]] || continue
    k get pv "pvc-$uid" >/dev/null 2>&1 && continue
    provision "$namespace" "$claim" "$uid" "$class" "$size" "$modes"
  done < <(k get pvc -A -o jsonpath='{range .items[?(@.status.phase=="Pending")]}{.metadata.namespace}{"|"}{.metadata.name}{"|"}{.metadata.uid}{"|"}{.spec.storageClassName}{"|"}{.spec.resources.requests.storage}{"|"}{.spec.volumeName}{"|"}{.spec.accessModes[*]}{"\n"}{end}' 2>/dev/null)
  while IFS='|' read -r name by path; do
    [[ -n "$name" && "$by" == "$PROVISIONER" ]] || continue
    release "$name" "$path"
  done < <(k get pv -o jsonpath='{range .items[?(@.status.phase=="Released")]}{.metadata.name}{"|"}{.metadata.annotations.pv\.kubernetes\.io/provisioned-by}{"|"}{.spec.local.path}{"\n"}{end}' 2>/dev/null)
  sleep "$INTERVAL"
done
