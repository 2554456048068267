# syntax=docker/dockerfile:1
# Courier: one image, one program (`courier manager|webhook|agent|...`).
# Node's major here (26) is the one of the `node` devDependency in
# package.json. Where this base cannot be pulled, hack/image-build.sh makes it
# locally and builds this file with buildah (docs/image.md).

FROM node:26-bookworm-slim AS build
WORKDIR /src
ENV NPM_CONFIG_UPDATE_NOTIFIER=false
COPY package.json package-lock.json ./
# The versions package-lock.json pins; `npm install` rather than `npm ci`: see
# hack/deps.sh. --ignore-scripts: nothing the image runs needs an install
# script, and the `node` devDependency's would fetch a second Node (this
# stage uses the base image's). The cache mount only speeds up rebuilds after
# a lockfile change. Behind a TLS-intercepting proxy, pass its CA bundle as
# the optional secret `npm-ca` (`--secret id=npm-ca,src=ca.pem`, as
# hack/image-build.sh does). Neither mount reaches the image.
RUN --mount=type=cache,target=/root/.npm --mount=type=secret,id=npm-ca \
    if [ -s /run/secrets/npm-ca ]; then export NODE_EXTRA_CA_CERTS=/run/secrets/npm-ca; fi \
 && npm install --no-audit --no-fund --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
# tsc rewrites the `.ts` import extensions to `.js`
# (rewriteRelativeImportExtensions), so the image runs plain JavaScript and
# strips no types at startup. Then the dev dependencies go; --offline because
# pruning needs nothing from the registry, yet npm would otherwise ask it
# about other platforms' optional packages the lockfile does not list.
RUN npm run build \
 && chmod 0755 dist/src/cli/main.js dist/src/cli/kubectl-courier.js \
 && npm prune --omit=dev --offline --ignore-scripts --no-audit --no-fund

FROM node:26-bookworm-slim
LABEL org.opencontainers.image.title="courier" \
      org.opencontainers.image.description="Kubernetes operator and admission-time credential injector for scan jobs" \
      org.opencontainers.image.licenses="Apache-2.0"
# This base must keep coreutils' /usr/bin/test: the webhook gives the agent
# sidecar a startup probe that execs
# `/usr/bin/test -e /var/run/courier/.courier-ready` (src/webhook/additions.ts).
# A distroless or shell-less base would break every sidecar.
WORKDIR /app
ENV NODE_ENV=production
# package.json's "type": "module" makes Node load dist/**/*.js as ES modules.
COPY package.json ./
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist/src ./dist/src
# `courier` on PATH too, for `kubectl exec … -- courier doctor` and the like.
RUN ln -s /app/dist/src/cli/main.js /usr/local/bin/courier
# Non-root; pods may pick another uid (the agent runs as the pod's).
USER 65532:65532
ENTRYPOINT ["node", "/app/dist/src/cli/main.js"]
