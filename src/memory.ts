// Buffers outside the V8 heap (each page's answer, and the Bind message pg builds for it) often outlive a
// young collection and then wait for a full one, which V8 starts only once they have grown by about 64 MiB:
// that wait was most of the first sync's peak RSS above its baseline (docs/benchmarks.md, "Memory"). Where
// node runs with --expose-gc (bin/contacts-sync's first line, the Dockerfile's ENTRYPOINT), a full collection
// is started after a committed page once they have grown by BUFFER_GROWTH_BYTES since the last one (measured
// at about 2 % of the sync's CPU, within noise). Without the flag this does nothing.

/** Growth of array-buffer memory since the last full collection that starts the next one. */
export const BUFFER_GROWTH_BYTES = 40 * 1024 * 1024;

/** A check to call between pages: collects when array buffers have grown by `growth` since the last collection. */
export function bufferReleaser(collect: (() => void) | undefined, arrayBuffers: () => number, growth = BUFFER_GROWTH_BYTES): () => void {
  if (!collect) return () => undefined;
  let afterLast = 0;
  return () => {
    const now = arrayBuffers();
    if (now < afterLast) afterLast = now; // V8 collected on its own meanwhile
    if (now - afterLast < growth) return;
    collect();
    afterLast = arrayBuffers();
  };
}

/** The process's own: global.gc exists only under --expose-gc. */
export const releaseBuffers = bufferReleaser((globalThis as { gc?: () => void }).gc, () => process.memoryUsage().arrayBuffers);
