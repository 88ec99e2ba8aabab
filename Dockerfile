# syntax=docker/dockerfile:1
# The convex-operator image: `convex-operator run` by default; snapshot Jobs run `convex-operator snapshot …`
# with the bundled, pinned `convex` CLI (/app/node_modules/convex).
#
#   docker build -t ghcr.io/icod-de/convex-operator:0.1.0 .
#   docker buildx build --platform linux/amd64,linux/arm64 -t <registry/name:tag> --push .
#
# Reproducible from package-lock.json (npm ci). The tests' image tier (test/image) builds this file with podman,
# NODE_IMAGE set to a Debian node base made there, and runs the image alone and against a local cluster.
# The base, pinned by digest (the multi-arch index: linux/amd64, linux/arm64, …) so a rebuild from the same commit
# starts from the same bytes. Node 22.23.2 on Debian bookworm; digest as docker-library/repo-info recorded the tag
# node:22-bookworm-slim (repos/node/remote/22-bookworm-slim.md, 19 Sep 2026). To move on: take the new index digest
# from `docker buildx imagetools inspect node:22-bookworm-slim` and change tag and digest together.
ARG NODE_IMAGE=node:22.23.2-bookworm-slim@sha256:48e4b67d85f87bd551df43704e24d252f56cc5f8e9718841aace50f19948f0f9

# 1. Build: every dependency (the TypeScript compiler, esbuild), `tsc -b` into packages/*/dist (the packages as npm
#    installs them), and the bundle the image runs (scripts/bundle-operator.ts: minified, the S3 steps in a chunk of
#    their own; it keeps less in memory than loading dist/ and node_modules file by file, see the README's bench).
FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json tsconfig.base.json ./
COPY packages/core/package.json packages/core/
COPY packages/k8s/package.json packages/k8s/
COPY packages/operator/package.json packages/operator/
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY packages/core/tsconfig.json packages/core/
COPY packages/core/src packages/core/src
COPY packages/k8s/tsconfig.json packages/k8s/
COPY packages/k8s/src packages/k8s/src
COPY packages/operator/tsconfig.json packages/operator/
COPY packages/operator/src packages/operator/src
# The operator project and its references (the root tsconfig.json also references test/ and scripts/).
RUN npx tsc -b packages/operator
COPY scripts/bundle-operator.ts scripts/
RUN npx tsx scripts/bundle-operator.ts packages/operator/bundle

# 2. Production dependencies only: the operator workspace and what it needs, from the same lockfile.
FROM ${NODE_IMAGE} AS production
WORKDIR /app
COPY package.json package-lock.json ./
COPY packages/core/package.json packages/core/
COPY packages/k8s/package.json packages/k8s/
COPY packages/operator/package.json packages/operator/
COPY --from=build /src/packages/core/dist packages/core/dist
COPY --from=build /src/packages/k8s/dist packages/k8s/dist
COPY --from=build /src/packages/operator/dist packages/operator/dist
COPY --from=build /src/packages/operator/bundle packages/operator/bundle
# After the dist folders: npm links node_modules/.bin/convex-operator to dist/main.js and makes it executable.
RUN npm ci --omit=dev --workspace convex-operator --ignore-scripts --no-audit --no-fund && npm cache clean --force
# The image's `convex-operator` is the bundle (the convex CLI of snapshot Jobs stays in node_modules).
RUN ln -sf ../../packages/operator/bundle/convex-operator.mjs node_modules/.bin/convex-operator

# 3. Runtime: node, the production tree, a non-root numeric user (runAsNonRoot can verify it).
FROM ${NODE_IMAGE}
ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="convex-operator" \
      org.opencontainers.image.description="Kubernetes operator for self-hosted Convex" \
      org.opencontainers.image.source="https://github.com/icod-de/convex-operator" \
      org.opencontainers.image.url="https://github.com/icod-de/convex-operator" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}"
# NODE_OPTIONS: `operatorNodeOptions` of scripts/bundle-operator.ts (the image tier checks they agree).
ENV NODE_ENV=production \
    NODE_OPTIONS=--max-semi-space-size=2 \
    PATH=/app/node_modules/.bin:$PATH
WORKDIR /app
COPY --from=production --chown=0:0 /app /app
USER 65532:65532
EXPOSE 8080 8081
ENTRYPOINT ["convex-operator"]
CMD ["run"]
