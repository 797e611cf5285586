// Peak RSS against the sync's CPU under V8 heap settings, side by side on one double and one PostgreSQL: is
// there a heap setting that keeps the first sync's memory flat and low without costing CPU? An analysis tool
// for docs/benchmarks.md ("Memory"), not part of `npm run bench`:
//
//   npx tsx bench/heapFlags.ts [--contacts 100000] [--flags "|--max-semi-space-size=4|--max-old-space-size=96"]
import { parseArgs } from "node:util";
import { startDouble } from "./double.js";
import { startServer } from "./postgres.js";
import { runSync } from "./sync.js";

const { values } = parseArgs({ options: { contacts: { type: "string", default: "100000" }, flags: { type: "string", default: "|--max-semi-space-size=4|--max-old-space-size=96" } } });
const variants = values.flags!.split("|");
const server = await startServer();
const double = await startDouble({ contacts: Number(values.contacts), pageSize: 100, latencyMs: 0, seed: 1 });
try {
  console.log(`| NODE_OPTIONS | contacts | peak RSS | peak V8 heap | sync CPU per contact | wall |`);
  console.log(`|---|--:|--:|--:|--:|--:|`);
  for (const flags of variants) {
    const url = await server.createDatabase("heap");
    try {
      const m = await runSync({ databaseUrl: url, double, postmasterPid: server.postmasterPid, env: { NODE_OPTIONS: flags || undefined } });
      const mib = (b: number | null) => (b === null ? "–" : `${Math.round(b / 1048576)} MiB`);
      console.log(`| ${flags || "(none)"} | ${m.rowsTotal} | ${mib(m.peakRssBytes)} | ${mib(m.peakHeapBytes)} | ${m.cpu.sync === null ? "–" : `${Math.round((m.cpu.sync / m.rowsTotal) * 1e6)} µs`} | ${(m.wallMs / 1000).toFixed(1)} s |`);
    } finally {
      await server.dropDatabase(url);
    }
  }
} finally {
  await double.stop();
  await server.stop();
}
