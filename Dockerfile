# syntax=docker/dockerfile:1
#
# rapport as a container: `docker build -t rapport .`, or `docker compose up` for rapport
# with PostgreSQL (see docker-compose.yml and README.md).

# ---- build ------------------------------------------------------------------------------
FROM rust:1-bookworm AS builder

# libpq and SQLite are compiled from source (bundled); libpq needs the OpenSSL headers.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libssl-dev pkg-config \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /src
COPY . .

# The cache mounts keep downloaded crates and compiled dependencies between builds, so a
# change to rapport's own code does not recompile every dependency. target/ is a cache
# mount, so the binary is copied out of it in the same step.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/usr/local/cargo/git \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin rapport \
    && install -D -m 0755 target/release/rapport /out/rapport

# ---- run --------------------------------------------------------------------------------
FROM debian:bookworm-slim

# libssl3: the bundled libpq links OpenSSL (TLS to PostgreSQL). ca-certificates: to verify
# a PostgreSQL server's certificate against the system store
# (?sslmode=verify-full&sslrootcert=system in DATABASE_URL).
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates libssl3 \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 rapport \
    && useradd --system --uid 10001 --gid rapport --home-dir /data --shell /usr/sbin/nologin rapport \
    && mkdir -p /data \
    && chown rapport:rapport /data

COPY --from=builder /out/rapport /usr/local/bin/rapport

# With no DATABASE_URL, rapport keeps its SQLite file (and the generated token secret) in
# /data: mount a named volume there to keep them (`-v rapport-data:/data`).
WORKDIR /data
USER rapport:rapport

ENV RAPPORT_ADDR=0.0.0.0:8080
EXPOSE 8080

ENTRYPOINT ["rapport"]
CMD ["serve"]
