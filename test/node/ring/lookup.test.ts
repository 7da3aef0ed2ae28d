// Lookup method by method, in-process on the memory network: walking to the successor, routing around silence, and checking answers.

import { describe, expect, test } from "bun:test";
import { isP2PError } from "../../../src/protocol/errors";
import { Lookup, STALE_TABLES_GRACE_MS } from "../../../src/node/ring/lookup";
import { RoutingTable } from "../../../src/node/ring/routing-table";
import { at, fakeClock, keyAfter, MemoryNetwork, setTrueNeighbours, stubCircle } from "./parts";

const POSITIONS = [0, 2, 4, 6, 8, 10, 12, 14];

/** The node under test at position 0 of a circle of stub peers; it knows its successor (2) and one finger (8). */
function setup(options: { maxLookupCalls?: number } = {}) {
  const network = new MemoryNetwork(1);
  const clock = fakeClock();
  const stubs = stubCircle(network, POSITIONS.filter((n) => n !== 0), clock.now);
  const table = new RoutingTable(at(0), 1, clock.now);
  setTrueNeighbours(POSITIONS, (n) => (n === 0 ? table : undefined));
  table.setFingers(159, 160, at(8)); // finger 159 starts half way round: position 8
  const warnings: string[] = [];
  const debugs: string[] = [];
  const lookup = new Lookup(table, network.transportFor(at(0).address), {
    maxLookupCalls: options.maxLookupCalls ?? 64,
    clock: clock.now,
    warn: (message) => warnings.push(message),
    debug: (message) => debugs.push(message),
  });
  return { network, clock, stubs, table, lookup, warnings, debugs };
}

describe("Lookup.route", () => {
  test("walks from this node's tables through the peers to the key's successor, counting the calls", async () => {
    const { lookup } = setup();
    const result = await lookup.route(null, keyAfter(9), new Set());
    expect(result.peer).toEqual(at(10));
    expect(result.hops).toBeGreaterThan(0);
    expect(result.checks).toBe(0);
  });

  test("answers from this node's own tables without a call when the key falls before its successor", async () => {
    const { lookup, network } = setup();
    const before = network.calls;
    const result = await lookup.route(null, keyAfter(1), new Set());
    expect(result).toEqual({ peer: at(2), hops: 0, checks: 0 });
    expect(network.calls).toBe(before);
  });

  test("with confirm, asks the claimed successor for its neighbours and hands them back", async () => {
    const { lookup, stubs } = setup();
    const result = await lookup.route(null, keyAfter(9), new Set(), { confirm: true });
    expect(result.peer).toEqual(at(10));
    expect(result.hops).toBe(1);
    expect(result.checks).toBe(1);
    expect(result.neighbours).toEqual(stubs.get(10)!.table.neighbours());
  });

  test("a node of this node's tables that died since does not contradict the true answer", async () => {
    const { lookup, network, stubs, debugs } = setup();
    // 8 was killed and the ring closed around it; this node's finger still names it.
    network.kill(at(8).address);
    setTrueNeighbours(POSITIONS.filter((n) => n !== 8), (n) => stubs.get(n)?.table);
    const result = await lookup.route(null, keyAfter(6), new Set(), { confirm: true });
    expect(result.peer).toEqual(at(10));
    expect(debugs.filter((line) => line.includes("lies between"))).toEqual([]);
  });

  test("a live node of this node's tables between the key and the answer still contradicts it", async () => {
    const { lookup, stubs, debugs, table } = setup();
    // 2 answers as if 4 and 6 were not there; this node's finger to 4 answers its PING.
    table.setFingers(158, 159, at(4));
    stubs.get(2)!.answerStep = () => ({ done: true, peer: at(8) });
    const result = await lookup.route(null, keyAfter(3), new Set(), { confirm: true });
    expect(result.peer).not.toEqual(at(8));
    expect(debugs.some((line) => line.includes("lies between"))).toBe(true);
  });

  test("routes around a peer that does not answer, marks it dead and adds it to avoid", async () => {
    const { lookup, network, table } = setup();
    network.kill(at(8).address);
    const avoid = new Set<string>();
    const result = await lookup.route(null, keyAfter(9), avoid);
    expect(result.peer).toEqual(at(10));
    expect(avoid.has(at(8).address)).toBe(true);
    expect(table.isDead(at(8).address)).toBe(true);
  });

  test("an answer contradicted by the successor's own predecessor is set aside and its giver avoided; a first contradiction is only a debug line", async () => {
    const { lookup, stubs, warnings, debugs } = setup();
    // The peer at 8 names 14 as the successor of keyAfter(9); 14's predecessor (12) lies in between.
    stubs.get(8)!.answerStep = () => ({ done: true, peer: at(14) });
    const avoid = new Set<string>();
    const result = await lookup.route(null, keyAfter(9), avoid, { confirm: true });
    expect(result.peer).toEqual(at(10));
    expect(avoid.has(at(8).address)).toBe(true);
    expect(warnings).toEqual([]);
    expect(debugs.length).toBe(1);
    expect(debugs[0]).toContain(`${at(8).address} answered that ${at(14).address} is its successor`);
  });

  test("a peer whose answers are still contradicted after the grace for tables behind a join is named at warn level, at most once a minute", async () => {
    const { lookup, stubs, warnings, clock } = setup();
    stubs.get(8)!.answerStep = () => ({ done: true, peer: at(14) });
    await lookup.route(null, keyAfter(9), new Set(), { confirm: true });
    clock.advance(STALE_TABLES_GRACE_MS / 2);
    await lookup.route(null, keyAfter(9), new Set(), { confirm: true });
    expect(warnings).toEqual([]); // within the grace: an honest peer may still be catching up
    clock.advance(STALE_TABLES_GRACE_MS);
    await lookup.route(null, keyAfter(9), new Set(), { confirm: true });
    expect(warnings.length).toBe(1);
    expect(warnings[0]).toContain(`${at(8).address} answered that ${at(14).address} is its successor`);
    await lookup.route(null, keyAfter(9), new Set(), { confirm: true });
    expect(warnings.length).toBe(1);
  });

  test("a lookup started at another peer walks from there and is not checked against this node's tables", async () => {
    const { lookup, stubs } = setup();
    // Peer 8 names 14 as successor of keyAfter(9): from our tables that would be contradicted.
    stubs.get(8)!.answerStep = () => ({ done: true, peer: at(14) });
    const result = await lookup.route(at(8), keyAfter(9), new Set());
    expect(result).toEqual({ peer: at(14), hops: 1, checks: 0 });
  });

  test("gives up with UNAVAILABLE after maxLookupCalls calls when peers keep pointing onwards", async () => {
    const { lookup, stubs } = setup({ maxLookupCalls: 5 });
    // 2 and 4 send every lookup to each other, for ever.
    for (const [n, stub] of stubs) stub.answerStep = () => ({ done: false, peer: at(n === 2 ? 4 : 2) });
    const error = await lookup.route(null, keyAfter(9), new Set()).catch((caught: unknown) => caught);
    expect(isP2PError(error, "UNAVAILABLE")).toBe(true);
    expect((error as Error).message).toContain("gave up after 5 calls");
  });

  test("fails with the first peer's error when the only peer asked does not answer", async () => {
    const { lookup, network } = setup();
    network.kill(at(8).address);
    const error = await lookup.route(at(8), keyAfter(9), new Set()).catch((caught: unknown) => caught);
    expect(isP2PError(error, "UNREACHABLE")).toBe(true);
  });
});
