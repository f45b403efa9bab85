# syntax=docker/dockerfile:1
# Build stage: the same script as the README's quick start builds the server.
FROM debian:12 AS build
WORKDIR /src
COPY . .
RUN scripts/build.sh build-release && strip build-release/opstream-server

# Runtime stage: Debian 12 slim with only the shared libraries the binary links.
FROM debian:12-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends libboost-json1.81.0 libboost-url1.81.0 libnghttp2-14 \
      libsimdjson14 libfmt9 libspdlog1.10 libsqlite3-0 libpq5 libhiredis0.14 libmariadb3 libodbc2 tdsodbc ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/build-release/opstream-server /usr/local/bin/opstream-server
WORKDIR /app
# The reference image's contract (server.md §1.9).
ENV ASPNETCORE_URLS=http://+:8080 \
    OPSTREAM__TRANSPORTS=signalr \
    OPSTREAM__ENGINES=text,json \
    OPSTREAM__STORAGE__PROVIDER=memory \
    OPSTREAM__BACKPLANE__PROVIDER=local \
    OPSTREAM__SIGNALR__PATH=/collab \
    OPSTREAM__WEBSOCKETS__PATH=/collab-ws
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
  CMD ["opstream-server", "--probe", "http://127.0.0.1:8080/health/live"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["opstream-server"]
