// The worker's small HTTP listener (HTTP_PORT, default 9464): GET /healthz (the process is alive and its
// event loop answers), GET /readyz (readiness.ts) and GET /metrics (Prometheus text, metrics.ts).
// Read-only, no request bodies, nothing secret in any answer.
import http from "node:http";
import type { AddressInfo } from "node:net";
import type { Logger } from "../log.js";

export interface HttpHandlers {
  health(): unknown;
  /** Not ready while the worker is starting (no database yet) or stopping. */
  readiness(): Promise<{ ready: boolean } & Record<string, unknown>>;
  metrics(): Promise<{ contentType: string; body: string }>;
}

export interface HttpServer {
  port: number;
  close(): Promise<void>;
}

export async function startHttpServer(port: number, handlers: HttpHandlers, logger: Logger): Promise<HttpServer> {
  const server = http.createServer((req, res) => {
    handle(req, res, handlers).catch((error: unknown) => {
      logger.warn({ err: error, path: req.url }, "health/metrics request failed");
      if (!res.headersSent) send(res, req, 500, "application/json", JSON.stringify({ error: "internal error" }));
      else res.destroy();
    });
  });
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", (error: NodeJS.ErrnoException) => {
      const why = error.code === "EADDRINUSE" ? "is already in use" : error.code === "EACCES" ? "needs privileges" : `cannot be used (${error.message})`;
      reject(new Error(`HTTP_PORT ${port} ${why}: choose another port for health and metrics, or 0 to run without them.`));
    });
    server.listen(port, () => {
      server.removeAllListeners("error");
      server.on("error", (error) => logger.error({ err: error }, "health and metrics listener failed"));
      resolve();
    });
  });
  const actual = (server.address() as AddressInfo).port;
  logger.info({ port: actual }, `health and metrics on port ${actual}: /healthz, /readyz, /metrics`);
  return {
    port: actual,
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    },
  };
}

async function handle(req: http.IncomingMessage, res: http.ServerResponse, handlers: HttpHandlers): Promise<void> {
  const path = (req.url ?? "/").split("?")[0];
  if (req.method !== "GET" && req.method !== "HEAD") {
    res.setHeader("allow", "GET, HEAD");
    return send(res, req, 405, "application/json", JSON.stringify({ error: "method not allowed" }));
  }
  switch (path) {
    case "/healthz":
      return send(res, req, 200, "application/json", JSON.stringify({ status: "ok", ...(handlers.health() as object) }));
    case "/readyz": {
      const readiness = await handlers.readiness();
      return send(res, req, readiness.ready ? 200 : 503, "application/json", JSON.stringify({ status: readiness.ready ? "ready" : "unready", ...readiness }));
    }
    case "/metrics": {
      const { contentType, body } = await handlers.metrics();
      return send(res, req, 200, contentType, body);
    }
    default:
      return send(res, req, 404, "application/json", JSON.stringify({ error: "not found", paths: ["/healthz", "/readyz", "/metrics"] }));
  }
}

function send(res: http.ServerResponse, req: http.IncomingMessage, status: number, contentType: string, body: string): void {
  res.writeHead(status, { "content-type": contentType, "content-length": Buffer.byteLength(body), "cache-control": "no-store" });
  res.end(req.method === "HEAD" ? undefined : body);
}
