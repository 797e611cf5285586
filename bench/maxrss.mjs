// Preloaded into the measured sync process (node --import): at exit, writes the process's peak resident set
// size (getrusage ru_maxrss, in KiB) and the peaks of V8's heap and of memory outside it (sampled every
// 100 ms), and its CPU time, to the file named by BENCH_MAXRSS_FILE, as JSON. Plain JavaScript, no imports of the project, so
// that it adds nothing measurable to the process it watches.
import { writeFileSync } from "node:fs";

const file = process.env.BENCH_MAXRSS_FILE;
if (file) {
  delete process.env.BENCH_MAXRSS_FILE;
  const peak = { heapTotal: 0, heapUsed: 0, external: 0, arrayBuffers: 0 };
  const sample = () => {
    const m = process.memoryUsage();
    for (const key of Object.keys(peak)) peak[key] = Math.max(peak[key], m[key]);
  };
  setInterval(sample, 100).unref();
  process.on("exit", () => {
    sample();
    try {
      const usage = process.resourceUsage();
      writeFileSync(file, JSON.stringify({ maxRssKiB: usage.maxRSS, cpuSeconds: (usage.userCPUTime + usage.systemCPUTime) / 1e6, peak }));
    } catch {
      // Nothing to report to: the harness says "no figure" when the file is missing.
    }
  });
}
