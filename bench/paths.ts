// Where things are, whatever the working directory the benchmark was started from.
import { fileURLToPath } from "node:url";

export const ROOT = fileURLToPath(new URL("..", import.meta.url));
export const BIN = fileURLToPath(new URL("../bin/contacts-sync", import.meta.url));
export const MAXRSS_PRELOAD = fileURLToPath(new URL("./maxrss.mjs", import.meta.url));
