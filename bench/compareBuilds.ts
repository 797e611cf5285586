// `npx tsx bench/compareBuilds.ts --base <other checkout> [--contacts N] [--page-size N] [--runs N]`: the first
// sync of this build and of another build (a checkout of another commit, built), on the same double and the
// same PostgreSQL, interleaved run by run, so that the ratios compare runs made side by side on a noisy
// machine. Reports contacts per second (of the run's own duration), requests per contact, and CPU seconds of
// the sync process. Used for issue 9's "nothing gets slower on the documented-guess API" (docs/benchmarks.md).
import { join } from "node:path";
import { parseArgs } from "node:util";
import { startDouble } from "./double.js";
import { BIN } from "./paths.js";
import { startServer } from "./postgres.js";
import { median } from "./report.js";
import { runSync, type SyncMeasure } from "./sync.js";

const { values } = parseArgs({
  options: {
    base: { type: "string" },
    contacts: { type: "string", default: "50000" },
    "page-size": { type: "string", default: "100" },
    runs: { type: "string", default: "3" },
  },
});
if (!values.base) {
  process.stderr.write("usage: npx tsx bench/compareBuilds.ts --base <checkout of another commit, built> [--contacts N] [--page-size N] [--runs N]\n");
  process.exit(2);
}
const contacts = Number(values.contacts);
const pageSize = Number(values["page-size"]);
const runs = Number(values.runs);
const builds = { base: join(values.base, "bin", "contacts-sync"), this: BIN };

const server = await startServer();
const measures: Record<keyof typeof builds, SyncMeasure[]> = { base: [], this: [] };
try {
  for (let run = 1; run <= runs; run++) {
    for (const name of (run % 2 === 1 ? ["base", "this"] : ["this", "base"]) as (keyof typeof builds)[]) {
      // A fresh double per run: the same data every time.
      const double = await startDouble({ contacts, pageSize, latencyMs: 0, seed: 1 });
      const url = await server.createDatabase(name);
      try {
        const m = await runSync({ databaseUrl: url, double, postmasterPid: server.postmasterPid, bin: builds[name] });
        measures[name].push(m);
        process.stderr.write(`run ${run} ${name}: ${m.received} received in ${(m.runMs / 1000).toFixed(2)} s, ${m.requests} requests, sync CPU ${m.cpu.sync?.toFixed(2)} s\n`);
      } finally {
        await server.dropDatabase(url);
        await double.stop();
      }
    }
  }
} finally {
  await server.stop();
}

const row = (name: keyof typeof builds) => {
  const ms = measures[name];
  return {
    rate: median(ms.map((m) => m.received / (m.runMs / 1000))),
    requestsPerContact: median(ms.map((m) => m.requests / m.received)),
    cpu: median(ms.map((m) => m.cpu.sync ?? Number.NaN)),
  };
};
const base = row("base");
const mine = row("this");
const lines = [
  `first sync of ${contacts.toLocaleString("en")} contacts, page size ${pageSize}, median of ${runs} runs each, interleaved`,
  `| build | contacts/s | × base | requests per contact | × base | sync CPU s |`,
  `|---|---|---|---|---|---|`,
  `| base (${values.base}) | ${base.rate.toFixed(0)} | 1.00 | ${base.requestsPerContact.toFixed(4)} | 1.00 | ${base.cpu.toFixed(2)} |`,
  `| this build | ${mine.rate.toFixed(0)} | ${(mine.rate / base.rate).toFixed(2)} | ${mine.requestsPerContact.toFixed(4)} | ${(mine.requestsPerContact / base.requestsPerContact).toFixed(3)} | ${mine.cpu.toFixed(2)} |`,
];
process.stdout.write(`${lines.join("\n")}\n`);
