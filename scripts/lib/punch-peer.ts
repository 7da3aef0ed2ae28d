// One side of the hole-punching lab: punches to its partner through the rendezvous `tries` times, moves bytes over each punched link, prints one JSON line per try.
//
// Usage (inside a host's namespace): bun scripts/lib/punch-peer.ts <rendezvous ip:port> <pair> <initiator|responder> <tries>

import { connect } from "../../src/protocol/client";
import { parseHostPort } from "../../src/protocol/address";
import { decodeLines } from "../../src/protocol/frame";
import { choosePunchPort, punch, type PunchChannel, punchedClient, type PunchResult, servePunched } from "../../src/protocol/punch";

/** What each punched link carries: a body the responder echoes back, checked byte for byte. */
const PAYLOAD_BYTES = 256 * 1024;
/** How long the responder serves a punched link before giving up on the initiator closing it. */
const SERVE_TIMEOUT_MS = 10_000;
/** How long the rendezvous may take to hand over a message. */
const RECV_SLACK_MS = 2_000;

const [rendezvousText, pair, role, triesText] = process.argv.slice(2);
if (role !== "initiator" && role !== "responder") throw new Error("role must be initiator or responder");
const rendezvous = parseHostPort(rendezvousText ?? "", 7600, "rendezvous");
const tries = Math.min(100, Number(triesText) || 1);
const other = role === "initiator" ? "responder" : "initiator";

for (let attempt = 1; attempt <= tries; attempt++) {
  const started = performance.now();
  const room = `${pair}-${attempt}`;
  // From a port of its own choosing, as a node's `observeThrough` does: a NAT that does not keep it maps ports at random.
  const observedFrom = choosePunchPort();
  const relay = await connect(rendezvous, { connectTimeoutMs: 5_000, localAddress: "0.0.0.0", localPort: observedFrom });
  try {
    const [observedIp, observedPort] = decodeLines((await relay.request("OBSERVED")).body);
    let peerIp: string | undefined;
    const channel: PunchChannel = {
      send: async (line) => void (await relay.request("SEND", [room, other, line])),
      receive: async (timeoutMs) => {
        const [line, from] = decodeLines((await relay.request("RECV", [room, role, String(timeoutMs)], { timeoutMs: timeoutMs + RECV_SLACK_MS })).body);
        peerIp = from;
        return line!;
      },
      peerIp: () => peerIp,
    };
    const randomPorts = Number(observedPort) !== observedFrom;
    const result = await punch(channel, { role, localPort: choosePunchPort(), observedIp: observedIp!, randomPorts, ...(role === "responder" ? { onLater: (late: PunchResult) => void serveEcho(late).catch(() => {}) /* a link the initiator did not keep closes before any byte */ } : {}) });
    const punchedMs = performance.now() - started;
    const moved = role === "initiator" ? await echo(result) : await serveEcho(result);
    console.log(JSON.stringify({ try: attempt, ok: true, ms: Math.round(punchedMs), rttMs: Math.round(result.rttMs), remote: result.remote, moved, ...(randomPorts ? { randomPorts } : {}) }));
  } catch (error) {
    console.log(JSON.stringify({ try: attempt, ok: false, ms: Math.round(performance.now() - started), error: (error as Error).message }));
  } finally {
    relay.close();
  }
}
process.exit(0);

/** The initiator's side of a punched link: sends a body, checks the echo, closes. */
async function echo(result: PunchResult): Promise<number> {
  const link = await punchedClient(result);
  try {
    const payload = crypto.getRandomValues(new Uint8Array(PAYLOAD_BYTES));
    const reply = await link.request("ECHO", [], { body: payload, timeoutMs: 5_000 });
    if (!Buffer.from(reply.body).equals(Buffer.from(payload))) throw new Error("the echo differs from what was sent");
    return reply.body.length;
  } finally {
    link.close();
  }
}

/** The responder's side: serves ECHO until the initiator closes the link. */
async function serveEcho(result: PunchResult): Promise<number> {
  let moved = 0;
  const served = servePunched(result, {
    ops: { ECHO: { usage: "ECHO <length>", minArgs: 0, maxArgs: 0, body: true, handle: ({ body }) => ((moved += body.length), { body }) } },
  });
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([served.whenClosed, new Promise((resolve) => (timer = setTimeout(resolve, SERVE_TIMEOUT_MS)))]);
  clearTimeout(timer);
  served.close();
  if (moved === 0) throw new Error("the punched link closed before any bytes moved");
  return moved;
}
