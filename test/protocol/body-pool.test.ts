// The reply-body pool: buffers handed out are reused once given back; nothing else is kept.

import { describe, expect, test } from "bun:test";
import { BodyPool } from "../../src/protocol/body-pool";
import { waitFor } from "../helpers/wait";

describe("BodyPool", () => {
  test("a buffer given back is handed out again for the next body that fits", () => {
    const pool = new BodyPool(1024, 4);
    const first = pool.take(1000);
    expect(first.length).toBe(1000);
    pool.release(first.subarray(4)); // a view of the same buffer counts
    const second = pool.take(1024);
    expect(second.buffer).toBe(first.buffer);
  });

  test("bodies too small or too large for the pool get fresh buffers that are never kept", () => {
    const pool = new BodyPool(1024, 4);
    const small = pool.take(100);
    const large = pool.take(2048);
    pool.release(small);
    pool.release(large);
    expect(pool.take(1024).buffer).not.toBe(small.buffer);
    expect(pool.take(1024).buffer).not.toBe(large.buffer);
  });

  test("a buffer is taken back once, and the pool keeps at most its maximum", () => {
    const pool = new BodyPool(1024, 1);
    const a = pool.take(1024);
    const b = pool.take(1024);
    pool.release(a);
    pool.release(a); // twice: the second is ignored, so it cannot be handed out to two bodies
    pool.release(b); // over the maximum: left to the garbage collector
    const c = pool.take(1024);
    const d = pool.take(1024);
    expect(c.buffer).toBe(a.buffer);
    expect(d.buffer).not.toBe(a.buffer);
    expect(d.buffer).not.toBe(b.buffer);
  });

  test("kept buffers are let go once no body has needed one for the idle time, and not while bodies keep coming", async () => {
    const pool = new BodyPool(1024, 4, 200);
    try {
      pool.release(pool.take(1024));
      expect(pool.kept).toBe(1);
      // Busy: a body every 50 ms keeps the buffer in use well past 200 ms.
      const busyUntil = performance.now() + 400;
      while (performance.now() < busyUntil) {
        const body = pool.take(1024);
        await Bun.sleep(50);
        pool.release(body);
        expect(pool.kept).toBe(1);
      }
      await waitFor("the idle pool to let its buffer go", () => pool.kept === 0, 5_000);
      expect(pool.take(1024).length).toBe(1024); // and it still hands out buffers afterwards
    } finally {
      pool.close();
    }
  });

  test("a closed pool keeps nothing, even buffers given back after it closed", () => {
    const pool = new BodyPool(1024, 4);
    const late = pool.take(1024);
    pool.release(pool.take(1024));
    pool.close();
    expect(pool.kept).toBe(0);
    pool.release(late);
    expect(pool.kept).toBe(0);
  });
});
