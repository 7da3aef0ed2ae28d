// TransferLog's turns under --max-active: first come first served, PAUSE gives a turn back, RESUME queues again, CANCEL ends a wait, CLEAR forgets ended rows.

import { describe, expect, test } from "bun:test";
import { TransferLog } from "../../../src/node/files/transfer-log";
import { waitFor } from "../../helpers/wait";

const none = () => {};
const id = (n: number) => String(n).repeat(64).slice(0, 64);

/** Starts waiting for a turn and reports when it gets one. */
function wantTurn(log: TransferLog, n: number, signal: AbortSignal) {
  const state = { got: false, error: null as unknown };
  const turn = log.turn(id(n), signal, none).then(
    (paused) => {
      state.got = true;
      return paused;
    },
    (error) => {
      state.error = error;
      return null;
    },
  );
  return { state, turn };
}

describe("turns under --max-active", () => {
  test("with one turn, downloads run one at a time in the order asked, and a paused one gives its turn to the next", async () => {
    const log = new TransferLog(1);
    const signals = [1, 2, 3].map((n) => log.begin(id(n), `f${n}`, `/tmp/f${n}`, 10));
    const first = wantTurn(log, 1, signals[0]!);
    const second = wantTurn(log, 2, signals[1]!);
    const third = wantTurn(log, 3, signals[2]!);
    await waitFor("the first to run", () => first.state.got, 2_000, 5);
    expect(log.list().map((entry) => entry.state)).toEqual(["downloading", "queued", "queued"]);
    // PAUSE: the running one's turn signal fires; once it gives the turn back the second runs, not the third.
    const paused = (await first.turn)!;
    log.pause("f1");
    expect(paused.aborted).toBe(true);
    log.release(id(1));
    await waitFor("the second to run", () => second.state.got, 2_000, 5);
    expect(third.state.got).toBe(false);
    expect(log.list().map((entry) => entry.state)).toEqual(["paused", "downloading", "queued"]);
    // RESUME: the first queues again, and goes before the third, which was asked after it.
    log.resume(id(1).slice(0, 8));
    const again = wantTurn(log, 1, signals[0]!);
    log.end(id(2), "done");
    await waitFor("the first to run again", () => again.state.got, 2_000, 5);
    expect(third.state.got).toBe(false);
    log.end(id(1), "done");
    await waitFor("the third to run", () => third.state.got, 2_000, 5);
  });

  test("CANCEL ends a queued download's wait, and CLEAR forgets only the ended rows", async () => {
    const log = new TransferLog(1);
    const running = log.begin(id(1), "a", "/tmp/a", 10);
    const queued = log.begin(id(2), "b", "/tmp/b", 10);
    await log.turn(id(1), running, none);
    const waiting = wantTurn(log, 2, queued);
    log.cancel("b");
    await waiting.turn;
    expect(String(waiting.state.error)).toMatch(/the download of b was cancelled/);
    log.end(id(2), "failed", "cancelled");
    expect(log.list().map((entry) => [entry.name, entry.state])).toEqual([["a", "downloading"], ["b", "cancelled"]]);
    expect(log.clear()).toBe(1);
    expect(log.list().map((entry) => entry.name)).toEqual(["a"]);
    expect(() => log.resume("a")).toThrow(/a is not paused \(it is downloading\)/);
    expect(() => log.pause("zzzz")).toThrow(/no download of 'zzzz' is under way/);
  });
});
