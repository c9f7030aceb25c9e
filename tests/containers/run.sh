#!/usr/bin/env bash
# run.sh: `make test-containers`. Two parts, each a list of named checks:
#
#  1. Kubernetes (tests/containers/k8s.sh): render deploy/k8s with kustomize
#     and validate every object against the Kubernetes API schema, offline.
#  2. Docker: build the image (base images by `make image-base` when no
#     registry is reachable), bring the compose stack up with
#     docker-compose.hostnet.yml (every socket on loopback, free ports), get a
#     prediction, scrape the broker's /metrics, scale train and infer to 3
#     and see 3 distinct worker names of each in `mlops status` (and 3
#     serving in the gateway's /health), wait for every container's HEALTHCHECK,
#     retrain and see both train tasks run in two train containers (so at
#     least one a scaled one), stop everything and check every container
#     exited with code 0. Prints the image size and the build time. Before
#     that, the broker and gateway commands of docker-compose.yml (--listen
#     '*' --insecure) and of docker-compose.curve.yml (CURVE and a token, no
#     --insecure) start in a container without network, and without
#     --insecure the plain ones are refused.
#
# Part 2 is skipped, with a line saying why, where no Docker engine can be
# reached or started (not root, no docker.io): exit 0 then. A dockerd this
# script starts (--iptables=false --bridge=none, vfs when overlay fails) is
# stopped by its pid at the end. Closing line:
#   containers: N passed, N failed, N skipped
# Not named tests/test_*: `make test` does not run it (it takes minutes).
set -u
cd "$(dirname "$0")/../.."
REPO=$PWD
WORK=$REPO/build/containers
PYTHON=${PYTHON:-/usr/bin/python3}
IMAGE=${MLOPS_IMAGE:-mlops-c:test}
WAIT_SEC=${WAIT_SEC:-120}          # bound of every "until ready" loop
passed=0; failed=0; skipped=0
mkdir -p "$WORK"

ok()   { echo "ok $1"; passed=$((passed + 1)); }
fail() { echo "FAIL $1${2:+: $2}"; failed=$((failed + 1)); }
skip() { echo "skip $1: $2"; skipped=$((skipped + 1)); }
check() { local name=$1; shift; if "$@"; then ok "$name"; else fail "$name"; fi; }
finish() {
    echo "containers: $passed passed, $failed failed, $skipped skipped"
    [ "$failed" -eq 0 ]
    exit
}

# --- part 1: Kubernetes manifests ----------------------------------------
tests/containers/k8s.sh > "$WORK/k8s.out" 2>&1
k8s_rc=$?
cat "$WORK/k8s.out"
passed=$((passed + $(grep -c '^ok ' "$WORK/k8s.out")))
failed=$((failed + $(grep -c '^FAIL ' "$WORK/k8s.out")))
skipped=$((skipped + $(grep -c '^skip ' "$WORK/k8s.out")))
[ $k8s_rc -ne 0 ] && ! grep -q '^FAIL ' "$WORK/k8s.out" && fail "k8s.sh" "exit $k8s_rc"

# --- part 2: Docker ------------------------------------------------------
DOCKERD_PID=
s_stop_dockerd() {
    [ -n "$DOCKERD_PID" ] || return 0
    kill "$DOCKERD_PID" 2>/dev/null
    for _ in $(seq 1 100); do kill -0 "$DOCKERD_PID" 2>/dev/null || return 0; sleep 0.2; done
    kill -9 "$DOCKERD_PID" 2>/dev/null
}

# starts dockerd with storage driver $1 (empty: its default); 0 once it answers
s_start_dockerd() {
    local driver=$1
    dockerd --iptables=false --bridge=none ${driver:+--storage-driver "$driver"} \
        > "$WORK/dockerd.log" 2>&1 &
    DOCKERD_PID=$!
    for _ in $(seq 1 60); do
        docker info >/dev/null 2>&1 && return 0
        kill -0 "$DOCKERD_PID" 2>/dev/null || break
        sleep 0.5
    done
    s_stop_dockerd; DOCKERD_PID=
    return 1
}

# 0 when an engine answers, starting one if need be; else 1 with WHY set
# (not run in a subshell: DOCKERD_PID must reach the cleanup)
s_engine() {
    WHY="no docker command (make deps-test installs docker.io)"
    command -v docker >/dev/null || return 1
    docker info >/dev/null 2>&1 && return 0
    WHY="no engine and no dockerd to start (make deps-test)"
    command -v dockerd >/dev/null || return 1
    WHY="no engine running and starting dockerd needs root"
    [ "$(id -u)" = 0 ] || return 1
    s_start_dockerd "" && return 0
    s_start_dockerd vfs && return 0
    WHY="dockerd would not start (overlay2 nor vfs): $(tail -1 "$WORK/dockerd.log")"
    return 1
}

s_engine || { skip "docker" "$WHY"; finish; }
[ -n "$DOCKERD_PID" ] && echo "docker: started dockerd (pid $DOCKERD_PID), stopped at the end"
echo "docker: engine $(docker version -f '{{.Server.Version}}' 2>/dev/null), storage $(docker info -f '{{.Driver}}' 2>/dev/null)"

# compose: the v2 plugin when it is there, else v1 (Debian's docker-compose)
if docker compose version >/dev/null 2>&1; then COMPOSE=(docker compose)
elif command -v docker-compose >/dev/null; then COMPOSE=(docker-compose)
else skip "docker" "no docker compose plugin and no docker-compose (make deps-test)"; s_stop_dockerd; finish; fi
echo "docker: compose $("${COMPOSE[@]}" version --short 2>/dev/null || "${COMPOSE[@]}" version | head -1)"

PROJECT=mlopsct$$
# seven consecutive free ports: work, control, events, backend, the data
# service (the broker's default: the work port + 4), HTTP, metrics
port=$("$PYTHON" tests/procs.py --run 7)
MLOPS_WORK_PORT=$port MLOPS_CONTROL_PORT=$((port + 1)) MLOPS_EVENTS_PORT=$((port + 2))
MLOPS_BACKEND_PORT=$((port + 3)) MLOPS_HTTP_PORT=$((port + 5)) MLOPS_METRICS_PORT=$((port + 6))
export MLOPS_WORK_PORT MLOPS_CONTROL_PORT MLOPS_EVENTS_PORT MLOPS_BACKEND_PORT MLOPS_HTTP_PORT \
    MLOPS_METRICS_PORT
export MLOPS_IMAGE=$IMAGE
dc() { "${COMPOSE[@]}" -p "$PROJECT" -f docker-compose.yml -f docker-compose.hostnet.yml "$@"; }
s_cleanup() {
    dc down -v --remove-orphans > "$WORK/down.log" 2>&1
    s_stop_dockerd
}
trap s_cleanup EXIT

# the files compose reads, each combination users are told to run
check "compose config: default (override publishes 8000)" \
    eval '"${COMPOSE[@]}" config -q 2>"$WORK/config.err"'
check "compose config: hostnet" eval 'dc config -q 2>>"$WORK/config.err"'
mkdir -p "$WORK/keys/server" "$WORK/keys/client" "$WORK/keys/allowed"; touch "$WORK/keys/server/server.cert" "$WORK/keys/server/server.cert_secret" "$WORK/keys/client/client.cert" "$WORK/keys/client/client.cert_secret"
CURVE_FILES=(-f docker-compose.yml -f docker-compose.override.yml -f docker-compose.curve.yml)
check "compose config: CURVE from secrets" eval 'MLOPS_ADMIN_TOKEN=t MLOPS_KEYS="$WORK/keys" "${COMPOSE[@]}" "${CURVE_FILES[@]}" config -q 2>>"$WORK/config.err"'
s_curve_needs_token() {
    ! MLOPS_ADMIN_TOKEN= MLOPS_KEYS="$WORK/keys" "${COMPOSE[@]}" "${CURVE_FILES[@]}" config -q > "$WORK/notoken.err" 2>&1 \
        && grep -q "set MLOPS_ADMIN_TOKEN" "$WORK/notoken.err"
}
check "compose config: CURVE without MLOPS_ADMIN_TOKEN refused" s_curve_needs_token

# base images, then ours, timed
if ! make -s image-base > "$WORK/image-base.log" 2>&1; then
    fail "image-base" "$(tail -3 "$WORK/image-base.log")"; finish
fi
ok "image-base: $(tail -1 "$WORK/image-base.log")"
t0=$(date +%s.%N)
if docker build --network host -t "$IMAGE" . > "$WORK/build.log" 2>&1; then
    t1=$(date +%s.%N)
    size=$(docker image inspect -f '{{.Size}}' "$IMAGE")
    ok "image built: $IMAGE"
    awk -v i="$IMAGE" -v s="$size" -v t="$(awk -v a="$t0" -v b="$t1" 'BEGIN {print b - a}')" \
        -v c="$(grep -c 'Using cache' "$WORK/build.log")" \
        'BEGIN {printf "image: %s %.1f MB, build %.1f s (%d steps from cache)\n", i, s / 1e6, t, c}'
else
    fail "image build" "$(tail -5 "$WORK/build.log")"; finish
fi

# the command of service $1 in the compose files $2... (JSON list)
s_command() {
    local service=$1; shift
    MLOPS_ADMIN_TOKEN=t MLOPS_KEYS="$WORK/keys" "${COMPOSE[@]}" "$@" config 2>/dev/null \
        | "$PYTHON" -c 'import json,sys,yaml; print(json.dumps(yaml.safe_load(sys.stdin)["services"][sys.argv[1]]["command"]))' "$service"
}
# runs that command in a container without network for 3 s, with a server
# key pair at hand and the environment $1 (VAR=VALUE words): exit 124 when
# it was still running as timeout ended it, else the binary's own exit code
s_start() {
    local env=$1 cmd=$2 args
    mapfile -t args < <(echo "$cmd" | "$PYTHON" -c 'import json,sys; print("\n".join(json.load(sys.stdin)))')
    docker run --rm --network none --entrypoint /bin/sh "$IMAGE" -c \
        "mlops keygen --dir /tmp/k server >/dev/null && mkdir /tmp/allowed && exec env $env timeout 3 \"\$@\"" \
        sh "${args[@]}" > "$WORK/start.log" 2>&1
}
s_refused() { [ "$1" = 2 ] && grep -q 'refusing to start' "$WORK/start.log"; }
CURVE_ENV="MLOPS_CURVE_SERVER_CERT=/tmp/k/server.cert MLOPS_CURVE_CLIENTS_DIR=/tmp/allowed MLOPS_ADMIN_TOKEN=t"
for svc in broker gateway; do
    plain=$(s_command $svc -f docker-compose.yml); curve=$(s_command $svc "${CURVE_FILES[@]}")
    s_start "" "$plain"; rc=$?
    check "$svc of docker-compose.yml starts: $plain" [ $rc = 124 ]
    s_start "" "$(echo "$plain" | sed 's/, *"--insecure"//')"; rc=$?
    check "$svc of docker-compose.yml without --insecure is refused (exit $rc)" s_refused $rc
    s_start "$CURVE_ENV" "$curve"; rc=$?
    check "$svc of docker-compose.curve.yml starts with CURVE and a token: $curve" [ $rc = 124 ]
    check "$svc of docker-compose.curve.yml has no --insecure" eval '! echo "$curve" | grep -q -- --insecure'
done

# a JSON field of the status (python: the image has no jq, the host has python3)
s_json() { "$PYTHON" -c "import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1]))" "$1"; }
s_status() { docker exec "$(dc ps -q broker)" mlops status --broker "tcp://127.0.0.1:$MLOPS_CONTROL_PORT" --json; }
s_health() { curl -s -m 3 "http://127.0.0.1:$MLOPS_HTTP_PORT/health"; }
# retries "$@" once a second until it succeeds or WAIT_SEC pass
s_until() { local i; for ((i = 0; i < WAIT_SEC; i++)); do "$@" && return 0; sleep 1; done; return 1; }

s_serving() { [ "$(s_health | s_json "d.get('workers_serving', 0)" 2>/dev/null)" = "${1:-1}" ]; }
if ! dc up -d > "$WORK/up.log" 2>&1; then fail "compose up" "$(tail -5 "$WORK/up.log")"; finish; fi
ok "compose up (hostnet: ports $MLOPS_WORK_PORT-$MLOPS_BACKEND_PORT, HTTP $MLOPS_HTTP_PORT)"
check "first model trained and served (/health)" s_until s_serving 1
check "first-model one-shot exited 0" eval '[ "$(docker inspect -f "{{.State.ExitCode}}" "$(dc ps -aq first-model)")" = 0 ]'

RECORD='{"Pclass":3,"Sex":"male","Age":22,"SibSp":1,"Parch":0,"Fare":7.25,"Embarked":"S","Name":"Braund, Mr. Owen Harris"}'
answer=$(curl -s -m 5 -X POST "http://127.0.0.1:$MLOPS_HTTP_PORT/predict" -H 'Content-Type: application/json' -d "$RECORD")
echo "predict: $answer"
check "prediction from the gateway" eval 'echo "$answer" | s_json "d[\"prediction\"] in (0, 1) and d[\"model_version\"] >= 1" | grep -qx True'

# the broker's Prometheus page, once (hostnet: --metrics on loopback)
metrics=$(curl -s -m 5 "http://127.0.0.1:$MLOPS_METRICS_PORT/metrics")
echo "metrics: $(echo "$metrics" | grep -c '^mlops_') series; $(echo "$metrics" | grep '^mlops_tasks_queued{stage="train"}')"
check "broker /metrics has mlops_tasks_queued per stage" \
    eval '[ "$(echo "$metrics" | grep -cE "^mlops_tasks_queued\{stage=\"[a-z_]+\"\} [0-9]+$")" = 5 ]'

dc up -d --scale train=3 --scale infer=3 > "$WORK/scale.log" 2>&1 || fail "compose scale" "$(tail -5 "$WORK/scale.log")"
# N workers with N distinct names: with host networking they share the host
# name (and, each in its own pid namespace, maybe the pid), so the names are
# what tells them apart
s_trains() { [ "$(s_status | s_json "len({w['name'] for w in d['workers'] if w['stage'] == 'train'})")" = 3 ]; }
s_infers() { [ "$(s_status | s_json "len({w['name'] for w in d['serving']})")" = 3 ]; }
check "3 train workers, 3 names, in mlops status" s_until s_trains
check "3 inference workers, 3 names, in mlops status" s_until s_infers
check "3 inference workers serve (gateway /health)" s_until s_serving 3
echo "status after scaling:"; docker exec "$(dc ps -q broker)" mlops status --broker "tcp://127.0.0.1:$MLOPS_CONTROL_PORT" | sed 's/^/  /'

s_all_healthy() {
    local id; for id in $(dc ps -q); do
        [ "$(docker inspect -f '{{.State.Running}}' "$id")" = true ] || continue
        [ "$(docker inspect -f '{{.State.Health.Status}}' "$id")" = healthy ] || return 1
    done
}
check "every running container's HEALTHCHECK says healthy" s_until s_all_healthy

# the retrain: two train tasks (logreg, forest) dispatched together can only
# run on two workers, so at least one of them on a scaled container; its
# source is a file of the data directory mounted on the extract workers'
# --data-root (./data on /data)
run_out=$(docker exec "$(dc ps -q broker)" mlops retrain --broker "tcp://127.0.0.1:$MLOPS_CONTROL_PORT" \
          --source /data/synthetic_sample.csv --reason "container test" --wait 2>&1); run_rc=$?
echo "$run_out" | sed 's/^/  /'
run_id=$(echo "$run_out" | sed -n 's/^run \([0-9]*\) succeeded.*/\1/p')
check "retrain through the containers (source under --data-root) succeeded" eval '[ $run_rc = 0 ] && [ -n "$run_id" ]'
used=(); for id in $(dc ps -q train); do
    docker logs "$id" 2>&1 | grep -q "task started task=${run_id:-none}-train-" \
        && used+=("$(docker inspect -f '{{index .Config.Labels "com.docker.compose.container-number"}}' "$id")")
done
echo "retrain: run ${run_id:-?}'s train tasks ran in train containers #${used[*]:-none}"
check "the retrain used a scaled train worker" eval '[ ${#used[@]} -ge 2 ]'

# stop: every container ends inside its grace period with exit code 0
dc stop > "$WORK/stop.log" 2>&1
codes=$(for id in $(dc ps -aq); do docker inspect -f '{{.Name}} {{.State.Running}} {{.State.ExitCode}}' "$id"; done)
echo "$codes" | sed 's/^/  stopped: /'
check "compose stop: $(echo "$codes" | wc -l) containers, every exit code 0" \
    eval '! echo "$codes" | grep -vqE " false 0$"'
finish
