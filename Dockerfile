# Multi-stage build of the kakusan workspace: a Rust toolchain image builds, a slim image runs.
#
# The dependencies are fetched and compiled in layers that depend only on the manifests and
# Cargo.lock, so a change to kakusan's code rebuilds kakusan's crates, offline, and nothing
# else. No BuildKit cache mounts are needed.

# 1. The workspace's skeleton: every Cargo.toml and Cargo.lock, with each Rust file replaced by
#    the same stub. Docker caches by content, so the skeleton (and every layer built on it)
#    stays the same until a manifest, the lock file or the set of Rust files changes.
FROM rust:1.95-slim-bookworm AS skeleton
WORKDIR /src
COPY . .
RUN find . -name '*.rs' -print0 \
        | xargs -0 sh -c 'for file do printf "#![allow(warnings)]\nfn main() {}\n" > "$file"; done' sh \
    && find . -type f ! -name '*.rs' ! -name Cargo.toml ! -name Cargo.lock -delete

# 2. Fetch and compile the dependencies on the skeleton, then build the real code offline.
FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
COPY --from=skeleton /src ./
RUN cargo fetch --locked
RUN cargo build --release --locked --offline --bin kakusan
COPY . .
# The real sources may be older than the stubs compiled above; touching them makes cargo
# rebuild the workspace's own crates instead of keeping the stubs.
RUN find crates -name '*.rs' -exec touch {} + \
    && cargo build --release --locked --offline --bin kakusan \
    && cp target/release/kakusan /usr/local/bin/kakusan

# 3. The runtime: the binary, CA certificates for Discord's TLS, and an unprivileged user.
FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --uid 10001 --user-group --no-create-home --shell /usr/sbin/nologin kakusan
COPY --from=build /usr/local/bin/kakusan /usr/local/bin/kakusan
USER kakusan
# The compose file serves /metrics, /healthz and /readyz here (KAKUSAN_HTTP_ADDR).
EXPOSE 9100
ENTRYPOINT ["kakusan"]
CMD ["run"]
