// The per-host budget of requests in flight shared by the accounts of one process (src/api/hostGate.ts):
// served by account in turn, halved and paused for every account by any account's 429, raised again by
// clean answers. Pure logic: the pause runs on vitest's fake clock.
import { afterEach, describe, expect, it, vi } from "vitest";
import { HostGates } from "../../src/api/hostGate.js";

const HOST = new URL("https://white-label.example.com/inbox/users");
const OTHER = new URL("https://api.v7.botpenguin.com/inbox/users");

/** Whether `promise` has settled once pending microtasks have run. */
async function settled(promise: Promise<unknown>): Promise<boolean> {
  let done = false;
  promise.then(() => (done = true), () => (done = true));
  for (let i = 0; i < 10; i++) await Promise.resolve();
  return done;
}

afterEach(() => {
  vi.useRealTimers();
});

describe("HostGates", () => {
  it("serves waiting requests by account in turn, so one account's many requests cannot starve another's", async () => {
    const gates = new HostGates(1);
    const a = gates.gate(HOST, "a");
    const b = gates.gate(HOST, "b");
    const first = await a.acquire();
    const order: string[] = [];
    // Each request, once let through, is answered at once (its release lets the next one through).
    const request = (gate: typeof a, who: string) => gate.acquire().then((release) => { order.push(who); release(); });
    const all = Promise.all([request(a, "a1"), request(a, "a2"), request(a, "a3"), request(b, "b1")]);
    expect(await settled(all)).toBe(false); // the budget of 1 is held
    first();
    await all;
    expect(order).toEqual(["a1", "b1", "a2", "a3"]);
    expect(gates.stats()).toEqual([expect.objectContaining({ host: HOST.host, inFlight: 0, max: 1, peak: 1 })]);
  });

  it("a 429 for one account halves the host's budget and pauses it for every account; another host is not touched", async () => {
    vi.useFakeTimers();
    const gates = new HostGates(8);
    const a = gates.gate(HOST, "a");
    const b = gates.gate(HOST, "b");
    const elsewhere = gates.gate(OTHER, "c");
    a.answered(429, 10_000);
    expect(gates.stats().find((s) => s.host === HOST.host)).toMatchObject({ limit: 4, throttled: 1 });

    const waiting = b.acquire();
    expect(await settled(waiting)).toBe(false); // paused for b too
    expect(await settled(elsewhere.acquire())).toBe(true); // another host has its own budget
    vi.advanceTimersByTime(9_000);
    expect(await settled(waiting)).toBe(false);
    vi.advanceTimersByTime(1_000);
    expect(await settled(waiting)).toBe(true);

    // The halved budget holds for everyone: 4 in flight (b's one and three more), the fifth waits.
    const more = [a.acquire(), b.acquire(), a.acquire()];
    for (const m of more) expect(await settled(m)).toBe(true);
    const fifth = b.acquire();
    expect(await settled(fifth)).toBe(false);
    expect(gates.stats().find((s) => s.host === HOST.host)).toMatchObject({ inFlight: 4, limit: 4 });
    (await waiting)();
    expect(await settled(fifth)).toBe(true);
  });

  it("a pause is capped at 30 s whatever Retry-After says, and clean answers raise the budget back to its maximum", async () => {
    vi.useFakeTimers();
    const gates = new HostGates(4);
    const a = gates.gate(HOST, "a");
    a.answered(429, 3_600_000);
    const waiting = a.acquire();
    vi.advanceTimersByTime(30_000);
    expect(await settled(waiting)).toBe(true);
    (await waiting)();
    expect(gates.stats()[0]).toMatchObject({ limit: 2 });
    for (let i = 0; i < 2; i++) a.answered(200);
    expect(gates.stats()[0]).toMatchObject({ limit: 3 });
    for (let i = 0; i < 3; i++) a.answered(200);
    expect(gates.stats()[0]).toMatchObject({ limit: 4 });
    for (let i = 0; i < 10; i++) a.answered(200);
    expect(gates.stats()[0]).toMatchObject({ limit: 4, max: 4 }); // never above the setting
    a.answered(503);
    expect(gates.stats()[0]).toMatchObject({ limit: 4 }); // a server error is no rate limit
  });
});
