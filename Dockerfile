# kbot on Bun. Build: docker build -t kbot .   Run: docker run -p 8000:8000 -e OPENAI_API_KEY=… kbot
FROM oven/bun:1.4-slim
WORKDIR /app
COPY package.json bun.lock ./
RUN bun install --frozen-lockfile --production
COPY src ./src
COPY cli ./cli
COPY plugins ./plugins
COPY migrations ./migrations
ENV NODE_ENV=production HOST=0.0.0.0 PORT=8000 DATABASE_URL=sqlite:/data/kbot.db
VOLUME /data
EXPOSE 8000
USER bun
HEALTHCHECK --interval=15s --timeout=3s CMD bun -e "fetch('http://127.0.0.1:'+(process.env.PORT||8000)+'/health').then(r=>process.exit(r.ok?0:1)).catch(()=>process.exit(1))"
CMD ["bun", "cli/index.ts", "serve"]
