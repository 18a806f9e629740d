# syntax=docker/dockerfile:1.7
# JitBroker server image. Build from the repository root:
#   docker build -t jitbroker:dev .
# Nothing here has been built on the project's own machines: they have no Docker engine (docs/deployment.md).

# The SDK image's version must satisfy global.json (10.0.401, roll forward to a later feature band). The runtime stage
# needs no .NET: the broker is published self-contained, so its base is runtime-deps (the native libraries .NET needs).
ARG SDK_IMAGE=mcr.microsoft.com/dotnet/sdk:10.0
ARG RUNTIME_IMAGE=mcr.microsoft.com/dotnet/runtime-deps:10.0

FROM ${SDK_IMAGE} AS build
# scripts/publish-server.sh: self-contained, composite ReadyToRun for the image's architecture (TARGETARCH), so the broker
# starts without JIT-compiling its start-up path (docs/benchmarks.md, "Start-up"). scripts/perf.sh, scripts/test.sh and
# tests/JitBroker.Chart.Tests publish with the same script.
ARG TARGETARCH
WORKDIR /src
COPY global.json Directory.Build.props Directory.Packages.props BannedSymbols.txt .editorconfig ./
COPY protos/ protos/
COPY src/ src/
COPY scripts/publish-server.sh scripts/
RUN --mount=type=cache,id=nuget,target=/root/.nuget/packages \
    TARGETARCH="${TARGETARCH:-amd64}" scripts/publish-server.sh /out

# A Linux distribution's runtime-deps rather than a chiseled one: the Helm chart's init container copies the
# signing key with /bin/sh and install(1) (Kubernetes adds group read to Secret files when fsGroup is set,
# and the broker refuses a group-readable key). With a chiseled image, copy the key some other way.
FROM ${RUNTIME_IMAGE} AS runtime
RUN groupadd --system --gid 10001 jitbroker \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin jitbroker \
 && mkdir -p /var/lib/jitbroker/audit /etc/jitbroker/policies \
 && chown -R 10001:10001 /var/lib/jitbroker \
 && chmod 0700 /var/lib/jitbroker
WORKDIR /app
# Owned by root and not writable by the broker: the root filesystem can be mounted read-only.
COPY --from=build --chown=root:root /out/ /app/
# The broker opens its own listeners (JitBroker:Listen:*): the base image's ASPNETCORE_HTTP_PORTS would
# only produce an "overriding address" warning.
ENV ASPNETCORE_HTTP_PORTS= \
    DOTNET_NOLOGO=1 \
    DOTNET_CLI_TELEMETRY_OPTOUT=1
USER 10001:10001
# gRPC (h2c), HTTP (JWKS, /healthz, /readyz, /metrics), gRPC over mTLS (optional).
EXPOSE 50051 8080 8443
# Kubernetes probes /healthz and /readyz; a Docker HEALTHCHECK would need curl in the image.
HEALTHCHECK NONE
# The apphost of the self-contained publish: the runtime is in /app, not in the image.
ENTRYPOINT ["/app/JitBroker.Server"]
