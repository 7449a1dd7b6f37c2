# syntax=docker/dockerfile:1
#
# The edgefleet operator image: a static (musl) binary on distroless/static, running as the non-root user
# 65532 with nothing else in the image (no shell, no package manager). The chart's restricted securityContext
# (read-only root filesystem, all capabilities dropped) fits it as is.
#
#   docker build -t edgefleet:0.1.0 .                          # the operator (default target)
#   docker build --target emulator -t edgefleet-emulator:0.1.0 .   # the IEC emulator, for trying edgefleet
#
# Needs BuildKit (cache mounts). Builds natively for the target platform (`--platform linux/arm64` builds an
# aarch64 binary under emulation), so no cross linker is involved. See docs/install.md.

ARG RUST_VERSION=1.95.0

# ---------- build: compile static musl binaries ----------
FROM docker.io/library/rust:${RUST_VERSION}-slim-bookworm AS build
# musl-tools: the musl C toolchain `ring` (rustls' crypto) compiles its C/assembly parts with.
RUN apt-get update \
 && apt-get install -y --no-install-recommends musl-tools \
 && rm -rf /var/lib/apt/lists/*
RUN rustup target add "$(uname -m)-unknown-linux-musl"
WORKDIR /src
COPY . .
# Dependencies and build outputs live in cache mounts, so a source change rebuilds only the workspace crates.
# --locked: build exactly the versions in Cargo.lock. The binaries are copied out of the cache mount to /out,
# and the build fails unless they really are static (they must run on distroless/static, which has no libc).
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/usr/local/cargo/git \
    --mount=type=cache,target=/src/target \
    set -eux; \
    target="$(uname -m)-unknown-linux-musl"; \
    cargo build --release --locked --target "$target" -p edgefleet --bin edgefleet \
                                                      -p edgefleet-emulator --bin edgefleet-emulator; \
    mkdir -p /out; \
    cp "target/$target/release/edgefleet" "target/$target/release/edgefleet-emulator" /out/; \
    for bin in /out/*; do \
      if ldd "$bin" 2>&1 | grep -q '=>'; then echo "$bin is dynamically linked" >&2; exit 1; fi; \
    done

# ---------- emulator: the IEC emulator (optional target) ----------
FROM gcr.io/distroless/static-debian12:nonroot AS emulator
COPY --from=build /out/edgefleet-emulator /usr/local/bin/edgefleet-emulator
USER 65532:65532
# The IEC/IAM endpoint, on the port deploy/samples/providerconfig.yaml points at.
EXPOSE 18080
ENTRYPOINT ["/usr/local/bin/edgefleet-emulator"]
CMD ["--iec-addr", "0.0.0.0:18080"]

# ---------- operator: the default target ----------
FROM gcr.io/distroless/static-debian12:nonroot AS operator
LABEL org.opencontainers.image.title="edgefleet" \
      org.opencontainers.image.description="Kubernetes operator for edge-cloud fleets" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=build /out/edgefleet /usr/local/bin/edgefleet
# The distroless `nonroot` user; numeric so `runAsNonRoot` can verify it without /etc/passwd lookups.
USER 65532:65532
# /healthz, /readyz and /metrics (`--http-addr`).
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/edgefleet"]
CMD ["run"]
