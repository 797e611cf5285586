// The double's runnable entry: flags, the one line it prints, and a clean exit on SIGTERM.
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it, vi } from "vitest";
import { main } from "../../src/double/main.js";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const LINE = /^api double listening on (http:\/\/127\.0\.0\.1:\d+) with (\d+) contacts \(seed \d+\); to sync from it, set:$/m;

function listBody(page: number) {
  return JSON.stringify({
    searchText: "", tags: [], status: [], isOnline: false, _botWebsite: [], _botWhatsapp: [], _botTelegram: [],
    _botFacebook: [], _agentAssigned: [], segments: [], applicableFilters: [], lastSeenAt: { startAt: "", endsAt: "" },
    createdAt: { startAt: "", endsAt: "" }, userInteracted: false, lastMessageBy: [], isLiveChatActive: false,
    hasOrdered: { status: false, lastAt: "" }, page, isExport: "none", isContact: true,
  });
}

afterEach(() => {
  vi.restoreAllMocks();
  vi.unstubAllEnvs();
});

describe("main", () => {
  it("starts from flags, prints one line and serves", async () => {
    const log = vi.spyOn(console, "log").mockImplementation(() => {});
    vi.stubEnv("INBOX_API_TOKEN", "from-env");
    const double = await main(["--contacts", "12", "--page-size", "5", "--seed", "2"]);
    try {
      expect(log).toHaveBeenCalledTimes(1);
      const match = LINE.exec(String(log.mock.calls[0]![0]));
      expect(match?.[1]).toBe(double!.url);
      expect(match?.[2]).toBe("12");
      const res = await fetch(double!.url + "/inbox/users", {
        method: "POST",
        headers: { authorization: "Bearer from-env", "content-type": "application/json" },
        body: listBody(1),
      });
      expect(res.status).toBe(200);
      expect(((await res.json()) as { data: unknown[] }).data).toHaveLength(5);
    } finally {
      await double?.close();
    }
    expect(process.listenerCount("SIGTERM")).toBe(0);
  });

  it("refuses bad flags in one line each", async () => {
    for (const args of [["--contacts", "many"], ["--fault-rate", "2"], ["--bogus"], ["--anchor", "soon"]]) {
      const error = await main(["--token", "t", ...args]).then(() => undefined, (e: Error) => e);
      expect(error?.message, args.join(" ")).toMatch(/^api-double: .*\(see --help\)$/);
      expect(error?.message).not.toContain("\n");
    }
    await expect(main(["--token", "t", "--contacts", "many"])).rejects.toThrow(/--contacts must be a whole number/);
    await expect(main(["--token", "t", "--bogus"])).rejects.toThrow(/Unknown option '--bogus'/);
  });

  it("without a token makes one up and prints what to set; the same seed serves the same ids after a restart", async () => {
    vi.stubEnv("INBOX_API_TOKEN", "");
    const log = vi.spyOn(console, "log").mockImplementation(() => {});
    const ids: string[][] = [];
    for (let start = 0; start < 2; start += 1) {
      const double = await main(["--contacts", "20", "--seed", "7"]);
      try {
        const text = String(log.mock.calls.at(-1)![0]);
        expect(text).toContain(`INBOX_API_URL=${double!.url}`);
        const token = /INBOX_API_TOKEN=(\S+)/.exec(text)![1]!;
        const res = await fetch(double!.url + "/inbox/users", { method: "POST", headers: { authorization: `Bearer ${token}` }, body: listBody(1) });
        expect(res.status).toBe(200);
        ids.push(((await res.json()) as { data: { _id: string }[] }).data.map((c) => c._id));
      } finally {
        await double?.close();
      }
    }
    expect(ids[0]!.length).toBeGreaterThan(0);
    expect(ids[1]).toEqual(ids[0]);
  });

  it("runs as a process and exits cleanly on SIGTERM", async () => {
    const child = spawn(process.execPath, ["--import", "tsx", "src/double/main.ts", "--contacts", "30", "--token", "t"], {
      cwd: ROOT,
      env: { ...process.env, INBOX_API_TOKEN: "" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) =>
      child.on("exit", (code, signal) => resolve({ code, signal })),
    );
    const line = await new Promise<string>((resolve, reject) => {
      let out = "";
      child.stdout.on("data", (c: Buffer) => {
        out += c.toString();
        if (out.includes("\n")) resolve(out.split("\n")[0]!);
      });
      void exited.then(() => reject(new Error(`exited before listening: ${stderr}`)));
    });
    const url = LINE.exec(line)?.[1];
    expect(url, line).toBeDefined();
    const res = await fetch(url + "/inbox/users", { method: "POST", headers: { authorization: "Bearer t" }, body: listBody(1) });
    expect(res.status).toBe(200);
    await res.arrayBuffer();
    child.kill("SIGTERM");
    expect(await exited).toEqual({ code: 0, signal: null });
  }, 20_000);
});
