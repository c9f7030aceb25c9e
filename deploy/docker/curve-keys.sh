#!/usr/bin/env bash
# curve-keys.sh: the CURVE keys docker-compose.curve.yml hands out as
# secrets, made with the image's own `mlops keygen`:
#   DIR/server/server.cert(+_secret)   broker and gateway
#   DIR/client/client.cert(+_secret)   workers, gateway towards the broker, CLI
#   DIR/allowed/client.cert            the clients the servers accept
# Owned by uid 10001 (the image's user: compose v1 mounts file secrets with
# the host's owner and mode), secrets 0600.
#
#   deploy/docker/curve-keys.sh [DIR]     (default keys; image $MLOPS_IMAGE or mlops-c:latest)
set -euo pipefail
dir=$(realpath -m "${1:-keys}")
[ ! -e "$dir/server/server.cert" ] || { echo "curve-keys: $dir has keys already" >&2; exit 1; }
mkdir -p "$dir"
docker run --rm --user 0 --network none -v "$dir:/keys" --entrypoint /bin/sh "${MLOPS_IMAGE:-mlops-c:latest}" -c '
    mlops keygen --dir /keys/server server >/dev/null &&
    mlops keygen --dir /keys/client client >/dev/null &&
    mkdir -p /keys/allowed && cp /keys/client/client.cert /keys/allowed/ &&
    chown -R 10001:10001 /keys/server /keys/client /keys/allowed'
echo "curve-keys: keys in $dir (server/, client/, allowed/), owned by uid 10001"
