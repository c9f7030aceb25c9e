# Dockerfile: one image for every role of mlops-c; the role is the command.
#
#   docker build --network host -t mlops-c .
#   docker run --rm mlops-c mlops-broker --store /var/lib/mlops/store --listen "*" ...
#   docker run --rm mlops-c mlops-worker --stage train --broker tcp://broker:5555
#   docker run --rm -p 127.0.0.1:8000:8000 mlops-c mlops-gateway --listen "*" ...
#
# Two stages: the binaries are built on debian:bookworm with the -dev
# packages and installed (`make install`: bin/ and the dashboard's files in
# share/mlops/static) into /usr/local of debian:bookworm-slim, which gets
# only the runtime libraries and tini. Where no image registry is reachable,
# `make image-base` makes both base images with debootstrap (README,
# Containers). The processes run as the unprivileged user mlops (uid 10001)
# under tini, which forwards SIGTERM so `docker stop` ends them cleanly with
# exit code 0. The HEALTHCHECK, mlops-health, checks whichever role runs.

FROM debian:bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential pkg-config \
      libzmq3-dev libczmq-dev libmsgpack-dev liblmdb-dev libcsv-dev \
      libmicrohttpd-dev libjansson-dev libssl-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# only what the binaries are built from (.dockerignore keeps the rest out)
COPY Makefile ./
COPY common common
COPY proto proto
COPY ml ml
COPY workers workers
COPY broker broker
COPY gateway gateway
COPY cli cli
RUN make -j"$(nproc)" all \
 && make install PREFIX=/usr/local DESTDIR=/out \
 && strip /out/usr/local/bin/*

FROM debian:bookworm-slim
# the libraries the binaries link (ldd bin/*), and tini as PID 1
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      libczmq4 libzmq5 libmsgpackc2 liblmdb0 libcsv3 libmicrohttpd12 \
      libjansson4 libssl3 tini \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --user-group --home-dir /var/lib/mlops --shell /usr/sbin/nologin mlops \
 && install -d -o mlops -g mlops -m 0700 /var/lib/mlops
COPY --from=build /out/usr/local/ /usr/local/
COPY deploy/docker/mlops-health deploy/docker/mlops-first-model /usr/local/bin/
USER mlops
WORKDIR /var/lib/mlops
# the broker's store lives here; compose and Kubernetes mount a volume on it
VOLUME ["/var/lib/mlops"]
# work, control, events, metrics (broker); backend, HTTP (gateway)
EXPOSE 5555 5556 5557 5558 8000 9100
HEALTHCHECK --interval=10s --timeout=8s --start-period=20s --retries=3 CMD ["mlops-health"]
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["mlops", "--help"]
