// Whose request a holder serves next: turns in rotation, and at a full queue the requester served least keeps its place.

import { describe, expect, test } from "bun:test";
import { FairTurns, MAX_REMEMBERED_REQUESTERS } from "../../../src/node/files/fair-turns";

function drain(turns: FairTurns<string>): string[] {
  const order: string[] = [];
  for (let turn = turns.next(); turn; turn = turns.next()) order.push(turn.item);
  return order;
}

describe("FairTurns", () => {
  test("requesters take turns, each one's requests in the order they came", () => {
    const turns = new FairTurns<string>();
    for (const item of ["a1", "a2", "a3"]) turns.push("a", item);
    turns.push("b", "b1");
    turns.push("b", "b2");
    expect(drain(turns)).toEqual(["a1", "b1", "a2", "b2", "a3"]);
    expect(turns.size).toBe(0);
  });

  test("at a full queue a newcomer served less than a waiting requester takes that requester's last place", () => {
    const turns = new FairTurns<string>();
    turns.push("a", "a1");
    turns.next(); // a has been served once
    turns.push("a", "a2");
    turns.push("a", "a3");
    turns.push("b", "b1");
    expect(turns.evictFor("c")).toEqual({ requester: "a", item: "a3" });
    turns.push("c", "c1");
    expect(drain(turns)).toEqual(["a2", "b1", "c1"]);
  });

  test("a newcomer served as often as every waiting requester is turned away", () => {
    const turns = new FairTurns<string>();
    turns.push("a", "a1");
    turns.push("b", "b1");
    expect(turns.evictFor("c")).toBeUndefined();
    turns.next(); // a is served once, but has nothing waiting to give up
    expect(turns.evictFor("c")).toBeUndefined();
    turns.push("a", "a2");
    expect(turns.evictFor("c")).toEqual({ requester: "a", item: "a2" });
    expect(turns.evictFor("a")).toBeUndefined();
  });

  test("a request taken out (its requester hung up) leaves the others in turn", () => {
    const turns = new FairTurns<string>();
    turns.push("a", "a1");
    turns.push("b", "b1");
    turns.push("a", "a2");
    expect(turns.remove("a", "a1")).toBe(true);
    expect(turns.remove("a", "a1")).toBe(false);
    expect(drain(turns)).toEqual(["a2", "b1"]);
  });

  test("served counts are kept for a bounded number of requesters, the least recently served forgotten first", () => {
    const turns = new FairTurns<string>();
    for (let requester = 0; requester <= MAX_REMEMBERED_REQUESTERS; requester++) {
      turns.push(`r${requester}`, "chunk");
      turns.next();
    }
    turns.push("r1", "waiting");
    // r0 was served first and is forgotten: as a newcomer it counts as never served.
    expect(turns.evictFor("r0")).toEqual({ requester: "r1", item: "waiting" });
    turns.push("r1", "waiting");
    expect(turns.evictFor("r2")).toBeUndefined();
  });
});
