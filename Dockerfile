# syntax=docker/dockerfile:1
# The redscope image: `redscope exporter` by default; compose.yaml also runs the demo
# app from it. Build: docker build -t redscope:0.1.0 .

FROM node:20.20.2-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build && npm prune --omit=dev

FROM node:20.20.2-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/bin ./bin
COPY --from=build /app/sentinel ./sentinel
USER node
EXPOSE 9121
# `redscope exporter` sets its own V8 flags for a small heap as it starts (exporter/node-flags.ts,
# docs/exporter-memory.md): ~60 MiB RSS. NODE_OPTIONS=--max-old-space-size=... takes the heap
# sizing over; REDSCOPE_V8_FLAGS adds flags after them (e.g. "--opt --sparkplug").
ENTRYPOINT ["node", "bin/redscope.js"]
CMD ["exporter"]
