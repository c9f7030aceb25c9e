#!/usr/bin/env bash
# k8s.sh: renders each kustomization under deploy/k8s (the default one and
# autoscale/) with kubectl's kustomize and checks every object offline
# (tests/containers/k8s/validate.mjs: the Kubernetes API schema and KEDA's,
# plus our own consistency rules). No cluster is contacted. Lines:
# "ok/FAIL/skip NAME"; skips when kubectl or the validator's node modules
# are missing (make deps-test installs both). Run by tests/containers/run.sh.
set -u
cd "$(dirname "$0")/../.."
V=tests/containers/k8s
if ! command -v kubectl >/dev/null; then echo "skip k8s: no kubectl (make deps-test: kubernetes-client)"; exit 0; fi
if [ ! -d "$V/node_modules/kubernetes-models" ]; then echo "skip k8s: validator not installed (make deps-test: npm ci in $V)"; exit 0; fi
echo "k8s: kustomize $(kubectl version --client 2>/dev/null | sed -n 's/Kustomize Version: //p' | head -1)"
rc=0
for k in deploy/k8s deploy/k8s/autoscale; do
    if ! out=$(kubectl kustomize "$k" 2>"$V/render.err"); then
        echo "FAIL render $k: $(grep -v Warning "$V/render.err" | head -2)"; rc=1; continue
    fi
    echo "ok render $k: $(echo "$out" | grep -c '^kind:') objects"
    echo "$out" | node "$V/validate.mjs" | sed -E "s#^(ok|FAIL) #\1 $k: #"
    [ "${PIPESTATUS[1]}" = 0 ] || rc=1
done
rm -f "$V/render.err"
exit $rc
