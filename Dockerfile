# syntax=docker/dockerfile:1
#
# wechat-exporter as a container image.
#
#   docker build -t wechat-exporter --build-arg WECHAT_EXPORTER_REVISION="$(git rev-parse --short HEAD)" .
#   docker run -p 9767:9767 wechat-exporter --demo
#   docker run -p 9767:9767 -e SHOP_APPSECRET \
#     -v "$PWD/wechat-exporter.yml:/etc/wechat-exporter/wechat-exporter.yml:ro" wechat-exporter
#
# The config is read from /etc/wechat-exporter/wechat-exporter.yml (WECHAT_EXPORTER_CONFIG_FILE);
# mount secret files (secret_file, access_token_file) read-only anywhere, e.g. /run/secrets.
# Probes: GET /healthz (alive) and GET /readyz (config loaded, every collector polled once).
# docs/operating.md has the rest.

FROM rust:1.95-bookworm AS build
WORKDIR /src
ARG WECHAT_EXPORTER_REVISION=unknown
COPY Cargo.toml Cargo.lock ./
COPY src ./src
# Cargo reads every target Cargo.toml declares, the benchmark among them.
COPY benches ./benches
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked \
    && install -m 0755 target/release/wechat-exporter /usr/local/bin/wechat-exporter

FROM debian:bookworm-slim
# rustls carries its own root certificates, so the image needs no ca-certificates package.
RUN groupadd --system --gid 10001 wechat-exporter \
    && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
       --shell /usr/sbin/nologin wechat-exporter \
    && mkdir -p /etc/wechat-exporter
COPY --from=build /usr/local/bin/wechat-exporter /usr/local/bin/wechat-exporter
ENV WECHAT_EXPORTER_CONFIG_FILE=/etc/wechat-exporter/wechat-exporter.yml
USER 10001:10001
EXPOSE 9767
# /healthz over bash's /dev/tcp: the slim image has no curl, and needs none.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
    CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/9767 && printf 'GET /healthz HTTP/1.0\\r\\nHost: localhost\\r\\n\\r\\n' >&3 && head -n 1 <&3 | grep -q ' 200 '"]
ENTRYPOINT ["/usr/local/bin/wechat-exporter"]
