# syntax=docker/dockerfile:1
# contacts-sync as a container: built with the dev toolchain, run from a production install (no dev or
# optional dependencies, so no embedded PostgreSQL: DATABASE_URL is required). Nothing is downloaded at
# start-up; the worker applies its own migrations (prisma/migrations) without any Prisma engine.
#
#   docker build -t contacts-sync .
#   docker run --env-file .env contacts-sync            # the scheduled worker (default command)
#   docker run --env-file .env contacts-sync sync       # one incremental pass, then exit
#
# Give the container at least SHUTDOWN_GRACE (25 s) to stop: docker stop waits only 10 s by default
# (`docker stop -t 30`, `--stop-timeout 30`; docker-compose.yml sets stop_grace_period).

ARG NODE_VERSION=26

FROM node:${NODE_VERSION}-slim AS build
WORKDIR /app
# Dependencies first, cached while only the source changes. Install scripts are skipped: the only ones in
# the tree fetch things this image does not use (Prisma's engines, the embedded PostgreSQL's links).
COPY package.json package-lock.json .npmrc ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json prisma.config.ts ./
COPY prisma ./prisma
COPY scripts ./scripts
COPY src ./src
# prisma generate + tsc -> dist/
RUN node scripts/prepare.mjs

FROM node:${NODE_VERSION}-slim AS production
ENV NODE_ENV=production
# As bin/contacts-sync's first line: two malloc arenas hold less memory than glibc's default (docs/benchmarks.md).
ENV MALLOC_ARENA_MAX=2
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
RUN npm ci --omit=dev --omit=optional --ignore-scripts --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY bin ./bin
COPY prisma/migrations ./prisma/migrations
# The image's unprivileged user; the application files stay root-owned and read-only to it.
USER node
# /healthz, /readyz, /metrics (HTTP_PORT)
EXPOSE 9464
STOPSIGNAL SIGTERM
# The slim image has no curl: ask with node itself. With HTTP_PORT=0 there is no listener; disable the check.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.HTTP_PORT||9464)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
ENTRYPOINT ["node", "--liftoff-only", "--max-semi-space-size=16", "--expose-gc", "bin/contacts-sync"]
CMD ["worker"]
