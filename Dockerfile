# Two stages: the build stage has the compiler and every devDependency; the runtime stage
# has only production dependencies and the compiled server and page.
#
# The base image is a build argument: the public Node 24 image by default. Point it at your
# own registry's copy with `--build-arg NODE_IMAGE=registry.example.org/node:24-bookworm-slim`
# (compose: NODE_IMAGE=...). The test set-up passes a local stand-in built from Debian
# packages (scripts/test-setup/local-images.sh), because CI cannot reach Docker Hub.
ARG NODE_IMAGE=node:24-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /app
# Dependencies first, so editing the source does not reinstall them. --ignore-scripts holds
# back `prepare` until the source is there; the next steps are what `npm ci` would run.
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY . .
# The same build Heroku runs: tsc for the server, esbuild for the browser client and page.
RUN npm run build

FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production
ENV PORT=3000
WORKDIR /app
COPY package.json package-lock.json ./
# Production dependencies only; none of them needs an install script.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
# The official image's unprivileged user (uid 1000); the app only reads its files.
USER node
EXPOSE 3000
# Liveness only (/healthz does not touch Redis): a Redis outage must not get replicas restarted.
HEALTHCHECK --interval=5s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# What `npm start` runs, without npm in between: signals reach node, which drains on SIGTERM
# (sockets closed with 1012, exit 0) well inside compose's stop_grace_period.
CMD ["node", "dist/server/main.js"]
