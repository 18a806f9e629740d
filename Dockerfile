# syntax=docker/dockerfile:1.7
# JitBroker server image. Build from the repository root:
#   docker build -t jitbroker:dev .
# Nothing here has been built on the project's own machines: they have no Docker engine (docs/deployment.md).

# The SDK image's version must satisfy global.json (10.0.401, roll forward to a later feature band).
ARG SDK_IMAGE=mcr.microsoft.com/dotnet/sdk:10.0
ARG RUNTIME_IMAGE=mcr.microsoft.com/dotnet/aspnet:10.0

FROM ${SDK_IMAGE} AS build
# ReadyToRun: the assemblies carry native code for the image's architecture, so the broker starts without JIT-compiling
# its start-up path (docs/benchmarks.md, "Start-up"). It needs a runtime identifier; the app stays framework-dependent
# (the runtime image provides .NET). scripts/perf.sh and tests/JitBroker.Chart.Tests publish with the same flags.
ARG TARGETARCH
WORKDIR /src
COPY global.json Directory.Build.props Directory.Packages.props BannedSymbols.txt .editorconfig ./
COPY protos/ protos/
COPY src/ src/
RUN --mount=type=cache,id=nuget,target=/root/.nuget/packages \
    case "${TARGETARCH:-amd64}" in arm64) rid=linux-arm64 ;; *) rid=linux-x64 ;; esac \
 && dotnet restore src/JitBroker.Server/JitBroker.Server.csproj -r "$rid" -p:PublishReadyToRun=true \
 && dotnet publish src/JitBroker.Server/JitBroker.Server.csproj -c Release -o /out --no-restore -r "$rid" --self-contained false \
      -p:PublishReadyToRun=true -p:UseAppHost=false

# Debian-based ASP.NET runtime rather than a chiseled one: the Helm chart's init container copies the
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
ENTRYPOINT ["dotnet", "/app/JitBroker.Server.dll"]
