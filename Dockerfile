# Multi-stage build of the kakusan workspace: a Rust toolchain image builds, a slim image runs.

FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
# The registry and target caches survive between builds, so only changed crates recompile.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin kakusan \
    && cp target/release/kakusan /usr/local/bin/kakusan

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --user-group --no-create-home kakusan
COPY --from=build /usr/local/bin/kakusan /usr/local/bin/kakusan
USER kakusan
ENTRYPOINT ["kakusan"]
CMD ["run"]
