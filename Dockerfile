FROM node:20-bookworm-slim
WORKDIR /app
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
COPY bin ./bin
COPY cli ./cli
COPY collector ./collector
COPY config ./config
COPY server ./server
COPY simulator ./simulator
COPY store ./store
COPY analyzer ./analyzer
COPY alerts ./alerts
COPY dashboards ./dashboards
RUN npm ci && npm prune --omit=dev
ENV NODE_ENV=production
EXPOSE 4318 8318
ENTRYPOINT ["node", "bin/syncwatch.js"]
CMD ["serve", "--config", "/etc/syncwatch/syncwatch.yaml"]
