// A real HTTP server that answers each request with what the test scripts: for answers the double does
// not produce on its own (403, odd wrappers, ...). Records the requests it received.
import http from "node:http";

export interface Scripted {
  url: string;
  requests: { headers: http.IncomingHttpHeaders; body: string }[];
  close(): Promise<void>;
}

export type Answer = { status: number; body: string; headers?: Record<string, string> } | "reset";

export async function startScripted(answer: (n: number) => Answer): Promise<Scripted> {
  const requests: Scripted["requests"] = [];
  const server = http.createServer((req, res) => {
    let body = "";
    req.on("data", (c: Buffer) => (body += c));
    req.on("end", () => {
      requests.push({ headers: req.headers, body });
      const a = answer(requests.length);
      if (a === "reset") {
        req.socket.destroy();
        return;
      }
      res.writeHead(a.status, { "content-type": "application/json", ...a.headers });
      res.end(a.body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${address.port}`,
    requests,
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}
