# meshgate: the sidecar image that deploy/kubernetes uses (the proxy container, and the init
# container that runs `meshgate redirect install`). Build: docker build -t meshgate:0.1.0 .
# Run alone: docker run --network host meshgate:0.1.0 run /etc/meshgate/config.yaml
# test/deploy/dockerfile.test.ts checks that every path here and in the manifests exists.
FROM node:20-bookworm-slim AS build
# The QUIC addon (ngtcp2, nghttp3, GnuTLS) and the native h2 engine (nghttp2, GnuTLS).
RUN apt-get update && apt-get install -y --no-install-recommends \
      python3 make g++ pkg-config libngtcp2-dev libngtcp2-crypto-gnutls-dev libnghttp3-dev libgnutls28-dev libnghttp2-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
COPY tsconfig.json ./
COPY core ./core
COPY src ./src
COPY transports ./transports
COPY native ./native
COPY test ./test
COPY bench ./bench
COPY interop ./interop
COPY examples ./examples
# npm ci runs prepare (tsc into dist/, then native/build.mjs); native:build then fails the image
# build if either addon did not build, rather than shipping an image without them.
RUN npm ci && npm run native:build && npm prune --omit=dev

FROM node:20-bookworm-slim
# Runtime libraries of both addons, and iptables for the init container's redirect.
RUN apt-get update && apt-get install -y --no-install-recommends \
      libngtcp2-9 libngtcp2-crypto-gnutls2 libnghttp3-3 libnghttp2-14 libgnutls30 iptables \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/native ./native
COPY --from=build /app/examples ./examples
# The manifests run the proxy as UID 2102 (the UID the redirect lets out untouched) and the init
# container as root with NET_ADMIN and NET_RAW; alone, the image runs as node.
USER node
EXPOSE 4140 4143 4191
ENTRYPOINT ["node", "--max-semi-space-size=4", "--v8-pool-size=1", "dist/src/cli.js"]
CMD ["run", "examples/default.yaml"]
