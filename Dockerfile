# meshgate: a sidecar image. Build: docker build -t meshgate .  Run: docker run --network host meshgate run /etc/meshgate/config.yaml
FROM node:20-bookworm-slim AS build
RUN apt-get update && apt-get install -y --no-install-recommends \
      python3 make g++ pkg-config libngtcp2-dev libngtcp2-crypto-gnutls-dev libnghttp3-dev libgnutls28-dev \
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
RUN npm ci && npm prune --omit=dev

FROM node:20-bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends libngtcp2-9 libngtcp2-crypto-gnutls2 libnghttp3-3 \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/native ./native
COPY --from=build /app/examples ./examples
USER node
EXPOSE 4140 4143 4191
ENTRYPOINT ["node", "dist/src/cli.js"]
CMD ["run", "examples/default.yaml"]
