// EdgeRing against stub ring members: lookups, reads and writes route around members the edge cannot reach.

import { describe, expect, test } from "bun:test";
import { P2PError } from "../../../src/protocol/errors";
import { EdgeRing, MAX_PRIMARY_ATTEMPTS, PRIMARY_RETRY_PAUSE_MS } from "../../../src/node/relay/edge-ring";
import { peerAt, type Peer } from "../../../src/model/peer";
import type { RecordEntry } from "../../../src/model/record";
import type { RingTransport } from "../../../src/model/ring-transport";
import { KEY_CHECK_DEFERRED } from "../../../src/node/signed-records";

const relay = peerAt("127.0.0.2:7495");
const far = peerAt("127.0.0.3:7495");
const replica = peerAt("127.0.0.4:7495");
const KEY = "a".repeat(40);

/** Members answering FIND_SUCCESSOR from a script; `unreachable` addresses throw UNREACHABLE for any call. */
function stubTransport(successorOf: (avoid: string[]) => Peer, unreachable: Set<string>, calls: string[]): RingTransport {
  const check = (to: Peer, op: string) => {
    calls.push(`${op} ${to.address}`);
    if (unreachable.has(to.address)) throw new P2PError("UNREACHABLE", `cannot reach ${to.address}`);
  };
  return {
    findSuccessorStep: async (to, _key, avoid) => (check(to, "FIND"), { done: true, peer: successorOf(avoid) }),
    getRecords: async (to) => (check(to, "GET"), [] as RecordEntry[]),
    putRecords: async (to) => (check(to, "PUT"), 1),
    getNeighbours: async () => ({ predecessor: null, successors: [] }),
    notify: async () => {},
    ping: async () => {},
    leaving: async () => {},
  };
}

const edgeRing = (transport: RingTransport, members: Peer[]) => new EdgeRing({ id: "e".repeat(40), address: `${relay.address}/${"e".repeat(40)}` }, transport, (entry) => entry, () => members);

describe("an edge's view of the ring", () => {
  test("a primary the edge cannot reach is avoided: the lookup is asked again and the next node takes the read and the write", async () => {
    const calls: string[] = [];
    const transport = stubTransport((avoid) => (avoid.includes(far.address) ? replica : far), new Set([far.address]), calls);
    const ring = edgeRing(transport, [relay]);
    expect(await ring.get(KEY)).toEqual([]);
    expect(calls).toEqual([`FIND ${relay.address}`, `GET ${far.address}`, `FIND ${relay.address}`, `GET ${replica.address}`]);
    expect((await ring.put(KEY, "m", "v")).address).toBe(replica.address);
  });

  test("a read gives up after a bounded number of primaries, saying why", async () => {
    const calls: string[] = [];
    const everyone = new Set<string>();
    let next = 10;
    const transport = stubTransport(() => {
      const peer = peerAt(`127.0.0.${next++}:7495`);
      everyone.add(peer.address);
      return peer;
    }, everyone, calls);
    await expect(edgeRing(transport, [relay]).get(KEY)).rejects.toMatchObject({ code: "UNAVAILABLE", message: expect.stringMatching(/no ring member holding key a{40} answered \(cannot reach/) });
    expect(calls.filter((call) => call.startsWith("GET"))).toHaveLength(MAX_PRIMARY_ATTEMPTS);
  });

  test("with its relay silent, a lookup starts from another member the DNS listed", async () => {
    const calls: string[] = [];
    const transport = stubTransport(() => replica, new Set([relay.address]), calls);
    expect((await edgeRing(transport, [relay, far]).lookup(KEY)).peer.address).toBe(replica.address);
    expect(calls).toEqual([`FIND ${relay.address}`, `FIND ${far.address}`]);
  });

  test("a relay that was a key's failed primary still starts the next lookup, so an edge knowing only its relay still writes", async () => {
    const calls: string[] = [];
    const transport: RingTransport = {
      ...stubTransport((avoid) => (avoid.includes(relay.address) ? replica : relay), new Set(), calls),
      putRecords: async (to) => {
        calls.push(`PUT ${to.address}`);
        if (to.address === relay.address) throw new P2PError("UNREACHABLE", "the relay's connection closed");
        return 1;
      },
    };
    expect((await edgeRing(transport, [relay]).put(KEY, "m", "v")).address).toBe(replica.address);
    expect(calls).toEqual([`FIND ${relay.address}`, `PUT ${relay.address}`, `FIND ${relay.address}`, `PUT ${replica.address}`]);
  });

  test("an edge that knows no member yet says so, rather than blaming a missing reservation alone", async () => {
    const transport = stubTransport(() => relay, new Set(), []);
    await expect(edgeRing(transport, []).put(KEY, "m", "v")).rejects.toMatchObject({ code: "UNAVAILABLE", message: expect.stringMatching(/knows no ring member yet/) });
  });
});

describe("an edge writing while the ring settles", () => {
  test("a primary that refuses the key as not its own (409, its tables behind a join) is asked again after growing pauses, not avoided, and takes the write", async () => {
    const calls: string[] = [];
    const transport = stubTransport(() => far, new Set(), calls);
    let refusals = 2;
    transport.putRecords = async (to) => {
      calls.push(`PUT ${to.address}`);
      if (refusals-- > 0) throw new P2PError("CONFLICT", "1 of 1 records refused: record 0 is for key aaaaaaaaaaaa, which this node is neither the primary nor a replica of");
      return 1;
    };
    const pauses: number[] = [];
    const ring = new EdgeRing({ id: "e".repeat(40), address: `${relay.address}/${"e".repeat(40)}` }, transport, (entry) => entry, () => [relay], async (ms) => void pauses.push(ms));
    expect((await ring.put(KEY, "m", "v")).address).toBe(far.address);
    expect(calls.filter((call) => call.startsWith("PUT"))).toEqual([`PUT ${far.address}`, `PUT ${far.address}`, `PUT ${far.address}`]);
    expect(pauses).toEqual([PRIMARY_RETRY_PAUSE_MS, 2 * PRIMARY_RETRY_PAUSE_MS]);
  });

  test("a primary that had no budget to fetch the edge's key now (422, send it again later) is asked again after a pause; a refusal for good is not waited for", async () => {
    const calls: string[] = [];
    const transport = stubTransport((avoid) => (avoid.includes(far.address) ? replica : far), new Set(), calls);
    const refusals = [
      new P2PError("MALFORMED", `1 of 1 records refused: record 0 names holder ${relay.address}/${"e".repeat(40)}, whose key this node did not ask for now (not checking now: 127.0.0.2 was checked 4 times in the last moments; try again shortly); ${KEY_CHECK_DEFERRED}`),
      new P2PError("MALFORMED", "1 of 1 records refused: record 0 is not signed by its holder"),
    ];
    transport.putRecords = async (to) => {
      calls.push(`PUT ${to.address}`);
      const refusal = refusals.shift();
      if (refusal) throw refusal;
      return 1;
    };
    const pauses: number[] = [];
    const ring = new EdgeRing({ id: "e".repeat(40), address: `${relay.address}/${"e".repeat(40)}` }, transport, (entry) => entry, () => [relay], async (ms) => void pauses.push(ms));
    // The deferred check is waited for at the same primary; the bad signature is not, and the next node takes it.
    expect((await ring.put(KEY, "m", "v")).address).toBe(replica.address);
    expect(calls.filter((call) => call.startsWith("PUT"))).toEqual([`PUT ${far.address}`, `PUT ${far.address}`, `PUT ${replica.address}`]);
    expect(pauses).toEqual([PRIMARY_RETRY_PAUSE_MS]);
  });
});
