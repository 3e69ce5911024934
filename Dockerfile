# syntax=docker/dockerfile:1
#
# SecureCam server image: one binary (`securecam`) that runs the signal, relay,
# recorder and notifier components together or apart (`serve --components ...`).
#
#   docker build -t securecam .
#   docker run --rm -p 8080:8080 -p 8443:8443 -p 8189:8189/udp -v securecam-data:/data securecam
#
# See docker-compose.yml for the production layout.

# --- Build stage ------------------------------------------------------------
FROM rust:1-bookworm AS builder

WORKDIR /src
COPY . .

# The cache mounts keep the crate registry and target dir between builds
# (BuildKit); the binary is copied out of the cached target dir in the same step.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/usr/local/cargo/git \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p securecam \
    && install -D -m 0755 target/release/securecam /out/securecam

# --- Runtime stage ----------------------------------------------------------
FROM debian:bookworm-slim

RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/*

# Unprivileged user owning the data directory.
RUN groupadd --system --gid 10001 securecam \
    && useradd --system --uid 10001 --gid securecam --home-dir /data --shell /usr/sbin/nologin securecam \
    && mkdir -p /data \
    && chown securecam:securecam /data

COPY --from=builder /out/securecam /usr/local/bin/securecam

ENV SECURECAM_DATA_DIR=/data
VOLUME ["/data"]

# HTTP/WebSocket API (signal; the relay's HTTP port is set via SECURECAM_HTTP_ADDR)
# and the media relay's UDP port. TURN (3478) is served by coturn, not by us.
# HTTPS with the server's own CA (SECURECAM_TLS__MODE=self-signed, the default), for
# phones on the home network; add SECURECAM_TLS__EXTRA_NAMES with the host's LAN names,
# as a container cannot see them.
EXPOSE 8080
EXPOSE 8443
EXPOSE 8189/udp

USER securecam:securecam
WORKDIR /data

ENTRYPOINT ["securecam"]
CMD ["serve"]
