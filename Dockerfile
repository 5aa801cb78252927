# kbot on Bun. Build: docker build -t kbot .   Run: docker run -p 8000:8000 -v kbot-data:/data -e OPENAI_API_KEY=… kbot
# Several instances on PostgreSQL: see compose.yaml.
FROM oven/bun:1.4-slim
WORKDIR /app
COPY package.json bun.lock ./
RUN bun install --frozen-lockfile --production
COPY src ./src
COPY cli ./cli
COPY plugins ./plugins
# The web console's sources, bundled by Bun at the first request to /console.
COPY console ./console
COPY migrations ./migrations
# The data directory is created and handed to the runtime user *before* VOLUME: Docker seeds a new named volume
# with the image directory's owner, so the default SQLite file can be created by `bun` (uid 1000). Without this
# the runtime creates /data as root and `kbot serve` cannot write it. A bind mount keeps the host's owner:
# `chown 1000:1000 <dir>` on the host.
RUN mkdir -p /data && chown bun:bun /data
# JavaScriptCore sizes its heap for a 1 GiB machine, not for the host's memory (src/util/runtime-env.ts).
ENV NODE_ENV=production HOST=0.0.0.0 PORT=8000 DATABASE_URL=sqlite:/data/kbot.db BUN_JSC_forceRAMSize=1073741824
VOLUME /data
EXPOSE 8000
USER bun
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 CMD bun -e "fetch('http://127.0.0.1:'+(process.env.PORT||8000)+'/health').then(r=>process.exit(r.ok?0:1)).catch(()=>process.exit(1))"
CMD ["bun", "cli/index.ts", "serve"]
