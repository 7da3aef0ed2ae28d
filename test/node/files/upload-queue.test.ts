// The holder's fair queue: requesters take turns, whoever asked first or most.

import { describe, expect, test } from "bun:test";
import { RateLimiter } from "../../../src/node/files/rate-limiter";
import { UploadQueue } from "../../../src/node/files/upload-queue";
import { isP2PError } from "../../../src/protocol/errors";

describe("UploadQueue", () => {
  test("requesters are served in turn, not in the order their requests arrived", async () => {
    const queue = new UploadQueue(new RateLimiter(0), { maxConcurrent: 1, maxWaiting: 100, maxWaitingBehindOthers: 100 });
    const served: string[] = [];
    const ask = (requester: string, index: number) => queue.serve({ requester, bytes: 1 }, async () => served.push(`${requester}${index}`));
    // A pipelines eight requests before B and C ask for anything.
    const requests = [0, 1, 2, 3, 4, 5, 6, 7].map((index) => ask("a", index));
    requests.push(ask("b", 0), ask("b", 1), ask("c", 0));
    await Promise.all(requests);
    expect(served).toEqual(["a0", "a1", "b0", "c0", "a2", "b1", "a3", "a4", "a5", "a6", "a7"]);
  });

  test("a requester that hangs up loses its place and nothing is read for it", async () => {
    const queue = new UploadQueue(new RateLimiter(0), { maxConcurrent: 1, maxWaiting: 100, maxWaitingBehindOthers: 100 });
    let release: () => void = () => {};
    const blocker = queue.serve({ requester: "a", bytes: 1 }, () => new Promise<void>((resolve) => (release = resolve)));
    const hangUp = new AbortController();
    let readForGone = false;
    const gone = queue.serve({ requester: "b", bytes: 1, signal: hangUp.signal }, async () => {
      readForGone = true;
    });
    const later = queue.serve({ requester: "c", bytes: 1 }, async () => "c served");
    hangUp.abort();
    const outcome = await gone.then(() => "served", (error) => (isP2PError(error, "CLOSED") ? "cancelled" : String(error)));
    release();
    await blocker;
    expect(outcome).toBe("cancelled");
    expect(await later).toBe("c served");
    expect(readForGone).toBe(false);
  });

  test("a full queue answers busy at once instead of queueing deeper", async () => {
    const queue = new UploadQueue(new RateLimiter(0), { maxConcurrent: 1, maxWaiting: 1, maxWaitingBehindOthers: 100 });
    let release: () => void = () => {};
    const active = queue.serve({ requester: "a", bytes: 1 }, () => new Promise<string>((resolve) => (release = () => resolve("a served"))));
    const waiting = queue.serve({ requester: "b", bytes: 1 }, async () => "b served");
    const refused = await queue.serve({ requester: "c", bytes: 1 }, async () => "c served").then(
      () => "served",
      (error) => (isP2PError(error, "UNAVAILABLE") ? error.message : String(error)),
    );
    expect(refused).toMatch(/^busy: 1 chunk requests are waiting here/);
    release();
    expect([await active, await waiting]).toEqual(["a served", "b served"]);
    expect(await queue.serve({ requester: "c", bytes: 1 }, async () => "c served")).toBe("c served");
  });

  test("a failed read fails only its own request and the queue goes on", async () => {
    const queue = new UploadQueue(new RateLimiter(0), { maxConcurrent: 1, maxWaiting: 100, maxWaitingBehindOthers: 100 });
    const failing = queue.serve({ requester: "a", bytes: 1 }, async () => {
      throw new Error("disk error");
    });
    const next = queue.serve({ requester: "b", bytes: 1 }, async () => 42);
    await expect(failing).rejects.toThrow("disk error");
    expect(await next).toBe(42);
  });

  test("a requester that hangs up while its chunk waits for the upload limit is dropped at once, and the next one is not delayed by it", async () => {
    // 1 MB/s: a 4 MB turn waits about four seconds for the limiter.
    const queue = new UploadQueue(new RateLimiter(1_000_000), { maxConcurrent: 2, maxWaiting: 10 });
    const hangUp = new AbortController();
    let readForGone = false;
    const started = performance.now();
    const gone = queue.serve({ requester: "b", bytes: 4_000_000, signal: hangUp.signal }, async () => {
      readForGone = true;
    });
    setTimeout(() => hangUp.abort(), 20);
    const outcome = await gone.then(() => "served", (error) => (isP2PError(error, "CLOSED") ? "cancelled" : String(error)));
    expect(outcome).toBe("cancelled");
    expect(readForGone).toBe(false);
    expect(performance.now() - started).toBeLessThan(2_000);
    // Its bytes were given back: a small chunk behind it goes out without waiting out those seconds.
    const next = performance.now();
    await queue.serve({ requester: "c", bytes: 1_000 }, async () => "c served");
    expect(performance.now() - next).toBeLessThan(2_000);
  });

  test("a full queue makes room for a requester served less than one waiting, which is told it is busy", async () => {
    const queue = new UploadQueue(new RateLimiter(0), { maxConcurrent: 1, maxWaiting: 1 });
    let release: () => void = () => {};
    const first = queue.serve({ requester: "a", bytes: 1 }, () => new Promise<string>((resolve) => (release = () => resolve("a1 served"))));
    // a, already served, asks again at once and takes the one waiting place...
    const again = queue.serve({ requester: "a", bytes: 1 }, async () => "a2 served").then(
      (value) => value,
      (error) => (isP2PError(error, "UNAVAILABLE") ? "a2 told busy" : String(error)),
    );
    // ...until c, never served here, asks: c takes it.
    const newcomer = queue.serve({ requester: "c", bytes: 1 }, async () => "c served");
    expect(await again).toBe("a2 told busy");
    release();
    expect([await first, await newcomer]).toEqual(["a1 served", "c served"]);
  });

  test("a turn's size may be named when the turn comes, as a chunk the holder chooses then", async () => {
    const queue = new UploadQueue(new RateLimiter(0), { maxConcurrent: 1, maxWaiting: 4, maxWaitingBehindOthers: 4 });
    let release: () => void = () => {};
    const blocker = queue.serve({ requester: "a", bytes: 1 }, () => new Promise<void>((resolve) => (release = resolve)));
    let chosenAt = "";
    const chosen = queue.serve(
      {
        requester: "b",
        bytes: () => {
          chosenAt = "at its turn";
          return 1;
        },
      },
      async () => "b served",
    );
    await Bun.sleep(0);
    expect(chosenAt).toBe("");
    release();
    await blocker;
    expect(await chosen).toBe("b served");
    expect(chosenAt).toBe("at its turn");
  });

  test("one requester pipelines several requests, but a request does not wait behind another requester's", async () => {
    const queue = new UploadQueue(new RateLimiter(0), { maxConcurrent: 1, maxWaiting: 4, maxWaitingBehindOthers: 1 });
    let release: () => void = () => {};
    const outcome = (request: Promise<string>) => request.then((value) => value, (error) => (isP2PError(error, "UNAVAILABLE") ? "busy" : String(error)));
    const a1 = queue.serve({ requester: "a", bytes: 1 }, () => new Promise<string>((resolve) => (release = () => resolve("a1"))));
    // a alone: its requests wait, pipelined.
    const a2 = outcome(queue.serve({ requester: "a", bytes: 1 }, async () => "a2"));
    const a3 = outcome(queue.serve({ requester: "a", bytes: 1 }, async () => "a3"));
    // b, never served, would wait behind a's: it takes the place of a's last instead.
    const b1 = outcome(queue.serve({ requester: "b", bytes: 1 }, async () => "b1"));
    expect(await a3).toBe("busy");
    // c, never served either, finds b's request waiting besides a's: only a's gives way.
    const c1 = outcome(queue.serve({ requester: "c", bytes: 1 }, async () => "c1"));
    expect(await a2).toBe("busy");
    // d finds b and c waiting, served no more than itself: d is the one told busy.
    expect(await outcome(queue.serve({ requester: "d", bytes: 1 }, async () => "d1"))).toBe("busy");
    release();
    expect([await a1, await b1, await c1]).toEqual(["a1", "b1", "c1"]);
  });
});
