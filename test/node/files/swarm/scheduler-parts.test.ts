// The scheduler's parts on their own: in-order reading, peers' pauses, requests out and the endgame's picks.

import { describe, expect, test } from "bun:test";
import { Bitfield } from "../../../../src/model/bitfield";
import { InOrderReading } from "../../../../src/node/files/swarm/in-order";
import { Pauses } from "../../../../src/node/files/swarm/pauses";
import { RequestsOut } from "../../../../src/node/files/swarm/requests-out";
import type { PeerState } from "../../../../src/node/files/swarm/scheduler-types";

function peer(address: string, fields: Partial<PeerState> = {}): PeerState {
  return { address, have: null, interesting: 0, inFlight: 0, chosenInFlight: 0, failures: 0, retryAt: 0, contradictions: 0, bad: false, missing: false, delivered: 0, ...fields };
}

describe("InOrderReading", () => {
  test("reads from its first chunk to the last, then wraps round to chunk 0", () => {
    const reading = new InOrderReading(5, 3);
    const taken = new Set<number>();
    const order: number[] = [];
    for (let step = 0; step < 6; step++) {
      const next = reading.next((index) => !taken.has(index));
      if (next === undefined) break;
      taken.add(next);
      order.push(next);
    }
    expect(order).toEqual([3, 4, 0, 1, 2]);
  });

  test("goes back to a chunk that is wanted again after it moved past it", () => {
    const reading = new InOrderReading(4, 0);
    const taken = new Set([0, 1, 2]);
    expect(reading.next((index) => !taken.has(index))).toBe(3);
    taken.delete(1);
    reading.rewind(1);
    expect(reading.next((index) => !taken.has(index))).toBe(1);
  });
});

describe("Pauses", () => {
  test("the next end is the earliest pause still running, and ended or dropped peers no longer count", () => {
    const pauses = new Pauses();
    const soon = peer("a", { retryAt: 100 });
    const later = peer("b", { retryAt: 300 });
    const dropped = peer("c", { retryAt: 200 });
    for (const paused of [later, soon, dropped]) pauses.add(paused);
    expect(pauses.nextEnd(50)).toBe(100);
    dropped.bad = true;
    expect(pauses.nextEnd(150)).toBe(300);
    expect(pauses.nextEnd(300)).toBeNull();
  });
});

describe("RequestsOut", () => {
  test("counts requests per peer and settles only what was asked of that peer", () => {
    const out = new RequestsOut();
    const a = peer("a");
    const b = peer("b");
    out.add(a, 7, 0);
    out.add(b, 7, 5);
    out.addChosen(a);
    expect([out.count, a.inFlight, a.chosenInFlight, b.inFlight]).toEqual([3, 2, 1, 1]);
    out.settle(a, 8);
    expect(out.count).toBe(3);
    out.settle(a, 7);
    out.settleChosen(a);
    out.settleChosen(a);
    expect([out.count, a.inFlight, a.chosenInFlight]).toEqual([1, 0, 0]);
    expect(out.isAbandoned(7)).toBe(false);
    out.settle(b, 7);
    expect(out.isAbandoned(7)).toBe(true);
  });

  test("the endgame asks another peer that has it for a chunk one peer has held since the deadline, never a third", () => {
    const out = new RequestsOut();
    const slow = peer("slow");
    const partial = new Bitfield(16);
    partial.set(4);
    const other = peer("other", { have: partial });
    const third = peer("third");
    out.add(slow, 4, 0);
    out.add(slow, 5, 50);
    expect(out.endgameCandidates(10)).toEqual([4]);
    expect(out.pickEndgame(slow, [4])).toBeUndefined();
    expect(out.pickEndgame(other, [4])).toBe(4);
    out.add(other, 4, 20);
    expect(out.pickEndgame(third, [4])).toBeUndefined();
    const requested: number[] = [];
    out.forEachSoleRequest((at) => requested.push(at));
    expect(requested).toEqual([50]);
  });
});
