// The reply-body pool: buffers handed out are reused once given back; nothing else is kept.

import { describe, expect, test } from "bun:test";
import { BodyPool } from "../../src/protocol/body-pool";

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
});
