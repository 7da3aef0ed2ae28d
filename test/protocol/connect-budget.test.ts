// The connection budget: what one target, one requester and everyone together may make a process connect to, and how answers are reused.

import { describe, expect, test } from "bun:test";
import {
  CachedChecks,
  CHECK_CACHE_MS,
  ConnectBudget,
  GLOBAL_BURST,
  REQUESTER_BURST,
  REQUESTER_INTERVAL_MS,
  TARGET_HOST_BURST,
  TARGET_HOST_INTERVAL_MS,
} from "../../src/protocol/connect-budget";
import { isP2PError } from "../../src/protocol/errors";

/** Spends once; "spent" when `connectTo` ran, else the refusal's code. */
async function attempt(budget: ConnectBudget, host: string, requester: string | null): Promise<string> {
  try {
    return await budget.spend(host, requester, async () => "spent");
  } catch (error) {
    if (!isP2PError(error)) throw error;
    return error.code;
  }
}

describe("ConnectBudget", () => {
  test("one target host gets a burst, then one connection per interval, whoever asks", async () => {
    let now = 1_000_000;
    const budget = new ConnectBudget(() => now);
    const results: string[] = [];
    for (let i = 0; i < TARGET_HOST_BURST + 3; i++) results.push(await attempt(budget, "127.9.9.9", `127.1.1.${i + 2}`));
    expect(results.filter((result) => result === "spent")).toHaveLength(TARGET_HOST_BURST);
    expect(results.slice(TARGET_HOST_BURST)).toEqual(["UNAVAILABLE", "UNAVAILABLE", "UNAVAILABLE"]);
    expect(await attempt(budget, "127.9.9.10", "127.1.1.2")).toBe("spent");
    now += TARGET_HOST_INTERVAL_MS;
    expect(await attempt(budget, "127.9.9.9", "127.1.1.2")).toBe("spent");
    expect(await attempt(budget, "127.9.9.9", "127.1.1.2")).toBe("UNAVAILABLE");
  });

  test("one requester gets a burst across all targets, then one per interval; null requesters are not counted", async () => {
    let now = 1_000_000;
    const budget = new ConnectBudget(() => now);
    const targets = Array.from({ length: REQUESTER_BURST + 2 }, (_, i) => `127.8.0.${i + 2}`);
    const results = await Promise.all(targets.map((target) => attempt(budget, target, "127.7.7.7")));
    expect(results.filter((result) => result === "spent")).toHaveLength(REQUESTER_BURST);
    expect(await attempt(budget, "127.8.1.2", null)).toBe("spent");
    now += REQUESTER_INTERVAL_MS;
    expect(await attempt(budget, "127.8.1.3", "127.7.7.7")).toBe("spent");
  });

  test("all requests together get a global burst", async () => {
    const budget = new ConnectBudget(() => 1_000_000);
    const results: string[] = [];
    for (let i = 0; i < GLOBAL_BURST + 5; i++) results.push(await attempt(budget, `127.6.${i >> 8}.${(i & 255) + 1}`, null));
    expect(results.filter((result) => result === "spent")).toHaveLength(GLOBAL_BURST);
  });
});

describe("CachedChecks", () => {
  test("one check per address is made and its answer reused until it is CHECK_CACHE_MS old; concurrent askers share it", async () => {
    let now = 1_000_000;
    let checks = 0;
    const cache = new CachedChecks(new ConnectBudget(() => now), async () => ++checks > 0, () => now);
    const answers = await Promise.all(Array.from({ length: 10 }, () => cache.ask("127.5.5.5:7495", "127.1.1.2")));
    expect(answers).toEqual(Array(10).fill(true));
    expect(checks).toBe(1);
    now += CHECK_CACHE_MS - 1;
    await cache.ask("127.5.5.5:7495", "127.1.1.3");
    expect(checks).toBe(1);
    now += 1;
    await cache.ask("127.5.5.5:7495", "127.1.1.3");
    expect(checks).toBe(2);
  });

  test("a refused check answers UNAVAILABLE and is not cached", async () => {
    const now = 1_000_000;
    let checks = 0;
    const cache = new CachedChecks(new ConnectBudget(() => now), async () => ++checks > 0, () => now);
    for (let port = 1; port <= TARGET_HOST_BURST; port++) await cache.ask(`127.5.5.6:${port}`, "127.1.1.2");
    const refused = await cache.ask("127.5.5.6:9999", "127.1.1.2").then(() => "answered", (error) => (isP2PError(error) ? error.code : "other"));
    expect(refused).toBe("UNAVAILABLE");
    expect(checks).toBe(TARGET_HOST_BURST);
  });
});
