// Runs after `npm ci` / `npm install` in this folder: generates the Prisma client and compiles to dist/,
// so `./bin/contacts-sync` works right after set-up. In a production install without dev dependencies
// (the Docker image copies a built dist/), there is nothing to do.
import { existsSync } from "node:fs";
import { execFileSync } from "node:child_process";

const bin = (name) => `node_modules/.bin/${name}`;
if (!existsSync(bin("prisma")) || !existsSync(bin("tsc"))) {
  console.log("prepare: dev dependencies not installed; skipping the build (dist/ must be provided).");
  process.exit(0);
}
execFileSync(bin("prisma"), ["generate"], { stdio: ["ignore", "ignore", "inherit"] });
execFileSync(bin("tsc"), ["-p", "tsconfig.build.json"], { stdio: "inherit" });
console.log("prepare: Prisma client generated, TypeScript compiled to dist/.");
