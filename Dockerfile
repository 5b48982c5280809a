# Runs switchyard from source through tsx (no build step), as `npm run serve` does locally.
FROM node:20-bookworm-slim
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts
COPY . .
ENV SWITCHYARD_HOST=0.0.0.0
EXPOSE 7080 9080
CMD ["node", "bin/switchyard.mjs", "serve"]
