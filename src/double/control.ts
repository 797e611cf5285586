// A control route for the double when it runs in its own process (the benchmark drives it from outside):
// enabled only by `--control` (DoubleOptions.control), never part of the API being imitated, and unauthenticated,
// so it must stay off anywhere but a loopback test set-up.
//
//   GET  /__control/stats    the double's counters: { requests, byStatus, faults, rowsServed, contacts }
//   POST /__control/mutate   {"see": n, "create": n, "editSilently": n, "delete": n} applied at once to n random
//                            live contacts each; answers how many of each were done
//   GET  /__control/behaviour the ApiBehaviour being played
//   POST /__control/behaviour an ApiBehaviour that replaces it ({} = the documented guess); answers it, or 400
import type http from "node:http";
import type { ApiBehaviour, ApiDouble } from "./server.js";

export const CONTROL_PREFIX = "/__control/";

const MUTATIONS = ["see", "create", "editSilently", "delete"] as const;
type Mutation = (typeof MUTATIONS)[number];

export async function handleControl(req: http.IncomingMessage, res: http.ServerResponse, double: ApiDouble): Promise<void> {
  const path = (req.url ?? "/").split("?")[0];
  const chunks: Buffer[] = [];
  for await (const chunk of req as AsyncIterable<Buffer>) chunks.push(chunk);
  if (req.method === "GET" && path === `${CONTROL_PREFIX}stats`) {
    return send(res, 200, { ...double.stats, contacts: double.store.size });
  }
  if (req.method === "POST" && path === `${CONTROL_PREFIX}mutate`) {
    let body: Partial<Record<Mutation, unknown>>;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString("utf8") || "{}");
    } catch {
      return send(res, 400, { error: "the body must be JSON" });
    }
    const counts: Partial<Record<Mutation, number>> = {};
    for (const key of Object.keys(body)) {
      const n = body[key as Mutation];
      if (!MUTATIONS.includes(key as Mutation) || typeof n !== "number" || !Number.isInteger(n) || n < 0) {
        return send(res, 400, { error: `expected {${MUTATIONS.map((m) => `"${m}": n`).join(", ")}} with whole numbers, got ${key}` });
      }
    }
    const store = double.store;
    const alive = (c: { status: string }) => c.status !== "DELETED";
    if (body.see) counts.see = store.randomIds(body.see as number, alive).map((id) => store.see(id)).length;
    if (body.create) counts.create = store.create(body.create as number).length;
    if (body.editSilently) counts.editSilently = store.randomIds(body.editSilently as number, alive).map((id) => store.editSilently(id)).length;
    if (body.delete) counts.delete = store.randomIds(body.delete as number, alive).map((id) => store.delete(id)).length;
    return send(res, 200, counts);
  }
  if (path === `${CONTROL_PREFIX}behaviour` && (req.method === "GET" || req.method === "POST")) {
    if (req.method === "POST") {
      try {
        double.setOptions({ behaviour: JSON.parse(Buffer.concat(chunks).toString("utf8") || "{}") as ApiBehaviour });
      } catch (error) {
        return send(res, 400, { error: error instanceof Error ? error.message : String(error) });
      }
    }
    return send(res, 200, double.behaviour);
  }
  return send(res, 404, { error: `no control route ${req.method} ${path}` });
}

function send(res: http.ServerResponse, status: number, value: unknown): void {
  const body = JSON.stringify(value);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
  res.end(body);
}
