// Benchmarks what checking lookup answers costs, and what it buys: checked against unchecked lookups on one ring over real TCP, honest and with one liar.
//
// bun scripts/bench-lookup.ts [--nodes 24] [--count 400] [--json]
// The ring's nodes run in this process (ChordNode + TcpTransport + the ring's wire ops) on a random 127.x.y subnet.
// A checked lookup is ChordNode.lookup (this node's tables, plus GET_NEIGHBOURS of the claimed successor); the
// unchecked one is the same walk started "via" the node itself, which checks nothing. Both run interleaved, so
// drift on a shared machine hits both alike; the figures are medians and their ratio.

import { parseArgs } from "node:util";
import { ChordNode } from "../src/node/ring/chord";
import { nodeId, ringId } from "../src/model/id";
import { MemoryRecordStore } from "../src/node/ring/records";
import { trueSuccessor } from "../src/node/ring/sim/simulation";
import type { Peer } from "../src/model/peer";
import type { RingHandlers } from "../src/model/ring-transport";
import { TcpTransport } from "../src/node/tcp-transport";
import { type ProtocolServer, serve } from "../src/protocol/server";
import { ringOps } from "../src/wire/ring";
import { median } from "./lib/bench";

const PORT = 7495;
const MAX_SETTLE_ROUNDS = 80;

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: { nodes: { type: "string", default: "24" }, count: { type: "string", default: "400" }, json: { type: "boolean", default: false } },
  strict: true,
});
const nodeCount = Number(values.nodes);
const count = Number(values.count);
if (!(Number.isInteger(nodeCount) && nodeCount >= 4 && nodeCount <= 200) || !(Number.isInteger(count) && count >= 10 && count <= 10_000)) {
  console.error("--nodes must be 4..200 and --count 10..10000");
  process.exit(1);
}

type Member = { chord: ChordNode; transport: TcpTransport; server: ProtocolServer; lying: boolean };

const subnet = `127.${64 + Math.floor(Math.random() * 190)}.${Math.floor(Math.random() * 256)}`;
const members: Member[] = [];
const figures: Record<string, number> = {};
try {
  for (let i = 0; i < nodeCount; i++) members.push(await startMember(`${subnet}.${i + 2}:${PORT}`));
  members[0]!.chord.create();
  for (const member of members.slice(1)) await member.chord.join([members[0]!.chord.self]);
  await settle();
  for (const member of members) await member.chord.fixAllFingers();

  const honest = await measure("honest");
  // One node now answers FIND_SUCCESSOR with itself for every key (and keeps its place otherwise).
  const liar = members[Math.floor(nodeCount / 2)]!;
  liar.lying = true;
  const withLiar = await measure("liar", liar);
  Object.assign(figures, honest, withLiar);
} finally {
  for (const member of members) {
    member.chord.stop();
    member.transport.close();
    await member.server.stop();
  }
}

if (values.json) console.log(JSON.stringify(figures));
else {
  const ratio = (figures.honestCheckedMs! / figures.honestUncheckedMs!).toFixed(2);
  console.log(`${nodeCount} nodes over TCP, ${count} lookups each way, medians:`);
  console.log(`honest ring: checked ${figures.honestCheckedMs!.toFixed(3)} ms vs unchecked ${figures.honestUncheckedMs!.toFixed(3)} ms (x${ratio}); calls per lookup ${figures.honestCheckedCalls!.toFixed(2)} vs ${figures.honestUncheckedCalls!.toFixed(2)}; correct ${pct(figures.honestCheckedCorrect!)} vs ${pct(figures.honestUncheckedCorrect!)}`);
  console.log(`one liar: checked ${figures.liarCheckedMs!.toFixed(3)} ms vs unchecked ${figures.liarUncheckedMs!.toFixed(3)} ms; calls per lookup ${figures.liarCheckedCalls!.toFixed(2)} vs ${figures.liarUncheckedCalls!.toFixed(2)}; correct ${pct(figures.liarCheckedCorrect!)} vs ${pct(figures.liarUncheckedCorrect!)}`);
}

async function startMember(address: string): Promise<Member> {
  const transport = new TcpTransport({ rpcTimeoutMs: 2_000 });
  const self: Peer = { id: nodeId(address), address };
  const chord = new ChordNode(self, transport, new MemoryRecordStore());
  const member = { chord, transport, lying: false } as Member;
  const handlers: RingHandlers = {
    handleFindSuccessorStep: (key, avoid) => (member.lying ? { done: true, peer: self } : chord.handleFindSuccessorStep(key, avoid)),
    handleGetNeighbours: () => chord.handleGetNeighbours(),
    handleNotify: (candidate) => chord.handleNotify(candidate),
    handlePutRecords: (entries) => chord.handlePutRecords(entries),
    handleGetRecords: (key) => chord.handleGetRecords(key),
    handleLeaving: (leaver, predecessor, successors) => chord.handleLeaving(leaver, predecessor, successors),
  };
  const colon = address.lastIndexOf(":");
  member.server = await serve({ listen: { hostname: address.slice(0, colon), port: PORT }, ops: ringOps(handlers) });
  return member;
}

/** Maintenance rounds until every node's successor is the true one (bounded). */
async function settle(): Promise<void> {
  const ids = members.map((member) => member.chord.self.id).sort();
  for (let round = 0; round < MAX_SETTLE_ROUNDS; round++) {
    for (const member of members) await member.chord.maintain();
    const stable = members.every((member) => {
      const successor = member.chord.neighbours().successors[0];
      const index = ids.indexOf(member.chord.self.id);
      return successor?.id === ids[(index + 1) % ids.length];
    });
    if (stable) return;
  }
  throw new Error(`the ring did not settle in ${MAX_SETTLE_ROUNDS} rounds`);
}

/** Checked and unchecked lookups of the same keys from the same honest nodes, interleaved. */
async function measure(label: string, liar?: Member): Promise<Record<string, number>> {
  const ids = members.map((member) => member.chord.self.id).sort();
  const askers = members.filter((member) => member !== liar);
  const checked = { ms: [] as number[], calls: 0, correct: 0 };
  const unchecked = { ms: [] as number[], calls: 0, correct: 0 };
  for (let i = 0; i < count; i++) {
    const asker = askers[i % askers.length]!.chord;
    const key = ringId(`${label}-${i}`);
    const truth = trueSuccessor(ids, key);
    // Alternate which goes first, so neither always finds the connections the other just used.
    for (const which of i % 2 === 0 ? ["checked", "unchecked"] : ["unchecked", "checked"]) {
      const started = performance.now();
      const result = which === "checked" ? await asker.lookup(key) : await asker.lookupVia(asker.self, key);
      const into = which === "checked" ? checked : unchecked;
      into.ms.push(performance.now() - started);
      into.calls += result.hops + result.checks;
      if (result.peer.id === truth) into.correct++;
    }
  }
  return {
    [`${label}CheckedMs`]: median(checked.ms),
    [`${label}UncheckedMs`]: median(unchecked.ms),
    [`${label}CheckedCalls`]: checked.calls / count,
    [`${label}UncheckedCalls`]: unchecked.calls / count,
    [`${label}CheckedCorrect`]: checked.correct / count,
    [`${label}UncheckedCorrect`]: unchecked.correct / count,
  };
}

function pct(fraction: number): string {
  return `${(100 * fraction).toFixed(1)}%`;
}
