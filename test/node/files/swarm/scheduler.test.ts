// The download scheduler, method by method: which chunk goes to which peer, and what each outcome changes.

import { describe, expect, test } from "bun:test";
import { Bitfield } from "../../../../src/model/bitfield";
import { type Assignment, ChunkScheduler, type SchedulerLimits } from "../../../../src/node/files/swarm/scheduler";
import { mulberry32 } from "../../../../src/random";

/** Reading from complete holders starts at chunk 0 unless a test asks for the random start. */
function scheduler(chunkCount: number, limits: Partial<SchedulerLimits> = {}) {
  const clock = { now: 0 };
  const instance = new ChunkScheduler({ chunkCount, clock: () => clock.now, random: mulberry32(7), limits: { randomStart: false, ...limits } });
  return { scheduler: instance, clock };
}

function bits(size: number, indices: number[]): Bitfield {
  const field = new Bitfield(size);
  for (const index of indices) field.set(index);
  return field;
}

const fixed = (assignments: Assignment[]) => assignments.map((a) => `${a.peer}:${a.index === null ? "any" : a.index}`);

describe("ChunkScheduler", () => {
  test("with complete holders only, chunks are asked in order, four at a time per holder", () => {
    const { scheduler: s } = scheduler(10);
    s.setPeer("a", null);
    s.setPeer("b", null);
    expect(fixed(s.assign())).toEqual(["a:0", "b:1", "a:2", "b:3", "a:4", "b:5", "a:6", "b:7"]);
    expect(s.assign()).toEqual([]);
  });

  test("no more than the download's limit is in flight or waiting for the disk", () => {
    const { scheduler: s } = scheduler(100, { inFlight: 5 });
    for (const peer of ["a", "b", "c"]) s.setPeer(peer, null);
    expect(s.assign()).toHaveLength(5);
    expect(s.delivered("a", 0)).toBe("write");
    expect(s.assign()).toHaveLength(0); // chunk 0 still waits for the disk
    s.stored(0);
    expect(s.assign()).toHaveLength(1);
  });

  test("a partial peer is asked only for chunks it has, the rarest first", () => {
    const { scheduler: s } = scheduler(8, { randomFirst: 0 });
    s.setPeer("p", bits(8, [1, 2, 3]));
    s.setPeer("q", bits(8, [2, 3]));
    s.setPeer("r", bits(8, [3]));
    const assigned = s.assign();
    // Chunk 1 is held by one peer only; 2 by two; 3 by three.
    expect(fixed(assigned)).toContain("p:1");
    for (const assignment of assigned) {
      const holder = { p: [1, 2, 3], q: [2, 3], r: [3] }[assignment.peer as "p" | "q" | "r"];
      expect(holder).toContain(assignment.index as number);
    }
  });

  test("a holder that sent bad bytes is never asked again, and its chunk goes to another", () => {
    const { scheduler: s } = scheduler(2);
    s.setPeer("bad", null);
    expect(fixed(s.assign())).toEqual(["bad:0", "bad:1"]);
    s.failed("bad", 0, "bad");
    s.failed("bad", 1, "bad");
    s.setPeer("bad", null); // listed again by the ring: still not trusted
    expect(s.assign()).toEqual([]);
    s.setPeer("good", null);
    expect(fixed(s.assign())).toEqual(["good:0", "good:1"]);
    expect(s.peerSummaries().find((peer) => peer.address === "bad")?.bad).toBe(true);
  });

  test("a link failure pauses the holder, doubling each time, while others take its chunks", () => {
    const { scheduler: s, clock } = scheduler(3, { retryMs: 500, maxRetryMs: 8_000 });
    s.setPeer("flaky", null);
    expect(fixed(s.assign())).toEqual(["flaky:0", "flaky:1", "flaky:2"]);
    s.failed("flaky", 0, "link");
    expect(s.assign()).toEqual([]);
    expect(s.nextWakeAt()).toBe(500);
    s.setPeer("other", null);
    expect(fixed(s.assign())).toEqual(["other:0"]);
    clock.now = 500;
    s.failed("flaky", 1, "link");
    const flakyUsable = () => s.peerSummaries().find((peer) => peer.address === "flaky")!.usable;
    clock.now = 1_499;
    expect(flakyUsable()).toBe(false);
    clock.now = 1_500;
    expect(flakyUsable()).toBe(true);
  });

  test("'not yet' puts the chunk back without holding it against the peer", () => {
    const { scheduler: s } = scheduler(4, { randomFirst: 0 });
    s.setPeer("p", bits(4, [0, 1]));
    const first = s.assign();
    expect(first).toHaveLength(1); // one at a time per peer in a swarm
    const index = first[0]!.index as number;
    s.failed("p", index, "not-yet");
    const next = s.assign();
    expect(next).toHaveLength(1);
    expect(next[0]!.index).not.toBe(index);
    expect(s.peerSummaries()[0]!.usable).toBe(true);
  });

  test("a partial peer that keeps saying 'not yet' for chunks it claims to have is dropped as a liar", () => {
    const { scheduler: s } = scheduler(8, { randomFirst: 0, maxContradictions: 3 });
    const claim = bits(8, [0, 1, 2, 3, 4, 5, 6, 7]);
    for (let round = 0; round < 3; round++) {
      s.setPeer("liar", claim); // its next availability report claims everything again
      const [asked] = s.assign();
      s.failed("liar", asked!.index, "not-yet");
    }
    expect(s.peerSummaries()[0]!.bad).toBe(true);
    s.setPeer("liar", claim);
    expect(s.assign()).toEqual([]);
  });

  test("'busy' makes the holder wait a moment, half to one and a half times the pause at random, then it is asked again", () => {
    const { scheduler: s, clock } = scheduler(2, { busyRetryMs: 250 });
    s.setPeer("h", null);
    s.assign();
    s.failed("h", 0, "busy");
    s.failed("h", 1, "busy");
    expect(s.assign()).toEqual([]);
    const wake = s.nextWakeAt()!;
    expect(wake).toBeGreaterThanOrEqual(125);
    expect(wake).toBeLessThan(375);
    clock.now = wake - 1;
    expect(s.assign()).toEqual([]);
    clock.now = 375;
    expect(fixed(s.assign())).toEqual(["h:0", "h:1"]);
  });

  test("requesters told busy at once come back at different times", () => {
    const wakes = new Set<number>();
    for (let seed = 1; seed <= 5; seed++) {
      const s = new ChunkScheduler({ chunkCount: 1, clock: () => 0, random: mulberry32(seed), limits: { busyRetryMs: 250 } });
      s.setPeer("h", null);
      s.assign();
      s.failed("h", 0, "busy");
      wakes.add(s.nextWakeAt()!);
    }
    expect(wakes.size).toBeGreaterThan(1);
  });

  test("endgame: a chunk held long by one holder is also asked of another; the later copy is dropped", () => {
    const { scheduler: s, clock } = scheduler(1, { endgameAfterMs: 750 });
    s.setPeer("slow", null);
    expect(fixed(s.assign())).toEqual(["slow:0"]);
    s.setPeer("fast", null);
    expect(s.assign()).toEqual([]);
    expect(s.nextWakeAt()).toBe(750);
    clock.now = 750;
    expect(fixed(s.assign())).toEqual(["fast:0"]);
    expect(s.delivered("fast", 0)).toBe("write");
    s.stored(0);
    expect(s.delivered("slow", 0)).toBe("late");
    expect(s.complete).toBe(true);
  });

  test("in a swarm a complete holder is asked to choose among the chunks still wanted", () => {
    const { scheduler: s } = scheduler(8);
    s.setPeer("partial", bits(8, [5]));
    s.setPeer("seeder", null);
    const assigned = s.assign();
    const chosen = assigned.find((a) => a.peer === "seeder");
    expect(chosen?.index).toBeNull();
    const wanted = chosen && chosen.index === null ? [...chosen.wanted.indices()] : [];
    // Chunk 5 was just asked of the partial peer: the seeder is not asked for it too.
    expect(wanted).toEqual([0, 1, 2, 3, 4, 6, 7]);
    expect(s.delivered("seeder", 3, true)).toBe("write");
  });

  test("a partial peer's news is counted: one more chunk it has, and later all of them", () => {
    const { scheduler: s } = scheduler(2, { randomFirst: 0 });
    s.setPeer("p", new Bitfield(2));
    expect(s.assign()).toEqual([]);
    s.peerHas("p", 1);
    expect(fixed(s.assign())).toEqual(["p:1"]);
    s.setPeer("p", null);
    expect(s.hasPeer("p")).toBe(true);
  });

  test("with complete holders only, reading starts at a random chunk, goes on in order and wraps round", () => {
    const starts = new Set<number>();
    for (let seed = 1; seed <= 8; seed++) {
      const s = new ChunkScheduler({ chunkCount: 10, clock: () => 0, random: mulberry32(seed), limits: { randomStart: true } });
      s.setPeer("seeder", null);
      const asked = s.assign().map((a) => a.index as number);
      const first = asked[0]!;
      expect(asked).toEqual([0, 1, 2, 3].map((step) => (first + step) % 10));
      starts.add(first);
    }
    // Downloads that start together ask the seeder for different chunks.
    expect(starts.size).toBeGreaterThan(1);
  });

  test("a chunk that failed before the reading position is asked again before those after it", () => {
    const { scheduler: s } = scheduler(6, { inFlightPerPeer: 2 });
    s.setPeer("h", null);
    expect(fixed(s.assign())).toEqual(["h:0", "h:1"]);
    s.failed("h", 0, "not-yet");
    expect(s.delivered("h", 1)).toBe("write");
    s.stored(1);
    expect(fixed(s.assign())).toEqual(["h:0", "h:2"]);
  });

  test("news of a chunk this download already has changes nothing, and says so", () => {
    const { scheduler: s } = scheduler(4, { randomFirst: 0 });
    s.setPeer("p", bits(4, [0]));
    expect(fixed(s.assign())).toEqual(["p:0"]);
    expect(s.delivered("p", 0)).toBe("write");
    s.stored(0);
    s.setPeer("q", new Bitfield(4));
    expect(s.peerHas("q", 0)).toBe(false); // already on disk
    expect(s.peerHas("q", 0)).toBe(false); // nor news twice
    expect(s.peerHas("q", 2)).toBe(true);
    expect(fixed(s.assign())).toEqual(["q:2"]);
  });

  test("once every free slot is filled, assign has nothing more until an outcome, news or the end of a pause", () => {
    const { scheduler: s, clock } = scheduler(4, { randomFirst: 0, busyRetryMs: 250 });
    s.setPeer("p", bits(4, [0, 1]));
    const [asked] = s.assign();
    expect(asked).toBeDefined();
    expect(s.assign()).toEqual([]);
    s.failed("p", asked!.index, "busy");
    expect(s.assign()).toEqual([]); // paused
    const wake = s.nextWakeAt()!;
    clock.now = wake - 1;
    expect(s.assign()).toEqual([]);
    clock.now = wake;
    expect(s.assign()).toHaveLength(1);
  });
});
