# syntax=docker/dockerfile:1
# Courier: one image, one program (`courier manager|webhook|agent`).
# The Node major here matches the `node` devDependency in package.json (26).

FROM node:26-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
# The pinned `node` package is a devDependency for developers; the image uses
# the base image's Node of the same major, so its install script is skipped.
# `npm install` rather than `npm ci`: see hack/deps.sh.
RUN npm install --no-audit --no-fund --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npx tsc -p tsconfig.build.json && npm prune --omit=dev --ignore-scripts

FROM node:26-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist/src ./dist/src
COPY package.json ./
USER 65532:65532
ENTRYPOINT ["node", "/app/dist/src/cli/main.js"]
