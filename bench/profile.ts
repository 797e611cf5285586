// Where the sync process spends its time: reads the V8 CPU profile that `node --cpu-prof` wrote and sums
// sample time per function (self: the function itself; total: the function and what it called) and per
// area (the product's own files, each npm package, Node's internals, garbage collection, idle = waiting on
// the network or the database).
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

export interface ProfileLine {
  name: string;
  where: string;
  ms: number;
  share: number;
}

export interface ProfileSummary {
  totalMs: number;
  self: ProfileLine[];
  total: ProfileLine[];
  areas: ProfileLine[];
}

function where(frame: CallFrame): string {
  const url = frame.url;
  if (!url) return "";
  const modules = url.lastIndexOf("node_modules/");
  if (modules >= 0) return url.slice(modules + "node_modules/".length) + `:${frame.lineNumber + 1}`;
  const dist = url.indexOf("/dist/");
  if (dist >= 0) return url.slice(dist + 1) + `:${frame.lineNumber + 1}`;
  return url.replace(/^file:\/\//, "") + `:${frame.lineNumber + 1}`;
}

function area(frame: CallFrame): string {
  const url = frame.url;
  const name = frame.functionName;
  if (!url) {
    if (name === "(garbage collector)" || name === "(idle)" || name === "(program)") return name;
    // Built-ins without a script (JSON.parse, JSON.stringify, RegExp, ...) are named for themselves.
    return name ? `(native) ${name}` : "(native)";
  }
  const modules = url.lastIndexOf("node_modules/");
  if (modules >= 0) {
    const parts = url.slice(modules + "node_modules/".length).split("/");
    return parts[0]!.startsWith("@") ? `${parts[0]}/${parts[1]}` : parts[0]!;
  }
  if (url.startsWith("node:")) return "node internals";
  const dist = url.indexOf("/dist/");
  if (dist >= 0) return url.slice(dist + 1).replace(/\.js$/, "");
  return url;
}

export function summariseProfile(file: string, top = 15): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, "utf8")) as CpuProfile;
  const byId = new Map<number, ProfileNode>();
  const parent = new Map<number, number>();
  for (const node of profile.nodes) {
    byId.set(node.id, node);
    for (const child of node.children ?? []) parent.set(child, node.id);
  }
  const key = (f: CallFrame) => `${f.functionName || "(anonymous)"}\u0000${where(f)}`;
  const self = new Map<string, number>();
  const total = new Map<string, number>();
  const areas = new Map<string, number>();
  let totalUs = 0;
  profile.samples.forEach((id, i) => {
    const dt = profile.timeDeltas[i] ?? 0;
    totalUs += dt;
    const node = byId.get(id);
    if (!node) return;
    self.set(key(node.callFrame), (self.get(key(node.callFrame)) ?? 0) + dt);
    areas.set(area(node.callFrame), (areas.get(area(node.callFrame)) ?? 0) + dt);
    const seen = new Set<string>();
    for (let n: number | undefined = id; n !== undefined; n = parent.get(n)) {
      const k = key(byId.get(n)!.callFrame);
      if (seen.has(k)) continue;
      seen.add(k);
      total.set(k, (total.get(k) ?? 0) + dt);
    }
  });
  const lines = (m: Map<string, number>, filter: (k: string) => boolean = () => true): ProfileLine[] =>
    [...m]
      .filter(([k]) => filter(k))
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([k, us]) => {
        const [name, at] = k.split("\u0000");
        return { name: name!, where: at ?? "", ms: us / 1000, share: us / totalUs };
      });
  // Totals: the product's own functions (what each step costs with everything it calls) and named builtins
  // such as JSON's `parse`; the event loop's frames would top the list and say nothing.
  const ownOrBuiltin = (k: string) => {
    const [name, at] = k.split("\u0000");
    return at!.startsWith("dist/") || (at === "" && /^[a-zA-Z]/.test(name!) && !["evaluate", "runMicrotasks"].includes(name!));
  };
  return { totalMs: totalUs / 1000, self: lines(self), total: lines(total, ownOrBuiltin), areas: lines(areas, () => true) };
}

export function findProfile(dir: string): string {
  const file = readdirSync(dir).find((f) => f.endsWith(".cpuprofile"));
  if (!file) throw new Error(`node --cpu-prof wrote no profile into ${dir}`);
  return join(dir, file);
}
