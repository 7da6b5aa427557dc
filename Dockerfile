# Multi-stage build: compile with the Rust toolchain, run on a slim Debian
# with only OpenSSL (libpq is built into the binary). Used by
# docker-compose.yml.
FROM rust:1.95-bookworm AS build
RUN apt-get update \
    && apt-get install -y --no-install-recommends libssl-dev pkg-config \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Cargo.toml Cargo.lock build.rs ./
COPY .cargo .cargo
COPY src src
COPY migrations migrations
# The OpenAPI document is built into the binary and served as committed.
COPY openapi openapi
RUN cargo build --release --locked

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends libssl3 ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /var/lib/griddesk --create-home griddesk
COPY --from=build /src/target/release/griddesk /usr/local/bin/griddesk
USER griddesk
WORKDIR /var/lib/griddesk
ENV GRIDDESK_BIND=0.0.0.0:8080 \
    GRIDDESK_LOG_FORMAT=json
EXPOSE 8080
ENTRYPOINT ["griddesk"]
CMD ["serve"]
