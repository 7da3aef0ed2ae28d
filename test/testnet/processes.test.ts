// How a testnet polls: never spending more than a fifth of its time in the checks themselves.

import { expect, test } from "bun:test";
import { POLL_PAUSE_PER_CHECK_TIME, waitUntil } from "../../src/testnet/processes";

test("a slow check is followed by a pause POLL_PAUSE_PER_CHECK_TIME times its length, so polling hundreds of nodes leaves them the cores", async () => {
  const checks: { start: number; end: number }[] = [];
  await waitUntil("the third check", 10_000, async () => {
    const start = performance.now();
    await Bun.sleep(40);
    checks.push({ start, end: performance.now() });
    return checks.length === 3;
  });
  expect(checks).toHaveLength(3);
  for (let index = 1; index < checks.length; index++) {
    const previous = checks[index - 1]!;
    const pause = checks[index]!.start - previous.end;
    // Timers fire a millisecond or two either side of their time; the pause is 160 ms and more here.
    expect(pause).toBeGreaterThanOrEqual(POLL_PAUSE_PER_CHECK_TIME * (previous.end - previous.start) - 5);
  }
});

test("a poll that never succeeds names what it waited for and the last error", async () => {
  let calls = 0;
  const waiting = waitUntil("a ring that never forms", 300, () => {
    calls++;
    throw new Error("node 3 sees no successor");
  });
  await expect(waiting).rejects.toThrow(/timed out after 300 ms waiting for a ring that never forms \(last error: node 3 sees no successor\)/);
  expect(calls).toBeGreaterThanOrEqual(2);
});
