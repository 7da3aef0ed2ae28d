// A relay stand-in for the direct-path tests and the punch lab: it tells a peer its observed address and carries lines (punch messages, reversal notices) between two, saying where each came from.
//
// Usage (inside the lab's public namespace): bun scripts/lib/punch-rendezvous.ts <ip> <port>

import { P2PError } from "../../src/protocol/errors";
import { parsePeerIp, parsePort } from "../../src/protocol/address";
import { type OpTable, serve } from "../../src/protocol/server";

/** Mailboxes kept at once (one per room and side), and lines per mailbox: bounds against a runaway peer. */
const MAX_MAILBOXES = 1_000;
const MAX_LINES_PER_MAILBOX = 16;
/** The longest a RECV may wait. */
const MAX_RECV_WAIT_MS = 30_000;

/** Lines for one side, each with the IP its sender came from (a relay vouches for it: see `PunchChannel.peerIp`). */
type Mailbox = { lines: string[][]; waiter: ((line: string[]) => void) | null };
const mailboxes = new Map<string, Mailbox>();

function mailbox(room: string, side: string): Mailbox {
  const key = `${room}/${side}`;
  let box = mailboxes.get(key);
  if (!box) {
    if (mailboxes.size >= MAX_MAILBOXES) mailboxes.delete(mailboxes.keys().next().value!);
    box = { lines: [], waiter: null };
    mailboxes.set(key, box);
  }
  return box;
}

const ops: OpTable = {
  OBSERVED: { usage: "OBSERVED", minArgs: 0, maxArgs: 0, handle: (request) => ({ lines: [request.remoteAddress, String(request.remotePort)] }) },
  SEND: {
    usage: "SEND <room> <side> <line>",
    minArgs: 3,
    maxArgs: 3,
    handle: ({ args: [room, side, line], remoteAddress }) => {
      const box = mailbox(room!, side!);
      const delivered = [line!, remoteAddress];
      if (box.waiter) {
        const waiter = box.waiter;
        box.waiter = null;
        waiter(delivered);
      } else if (box.lines.length < MAX_LINES_PER_MAILBOX) box.lines.push(delivered);
      else throw new P2PError("UNAVAILABLE", `mailbox ${room}/${side} is full`);
      return {};
    },
  },
  RECV: {
    usage: "RECV <room> <side> <wait-ms>",
    minArgs: 3,
    maxArgs: 3,
    handle: async ({ args: [room, side, wait], signal }) => {
      const box = mailbox(room!, side!);
      const queued = box.lines.shift();
      if (queued !== undefined) return { lines: queued };
      const waitMs = Math.min(MAX_RECV_WAIT_MS, Number(wait) || 0);
      const line = await new Promise<string[] | null>((resolve) => {
        const timer = setTimeout(() => resolve(null), waitMs);
        box.waiter = (text) => (clearTimeout(timer), resolve(text));
        signal.addEventListener("abort", () => (clearTimeout(timer), resolve(null)));
      });
      if (line === null) {
        box.waiter = null;
        throw new P2PError("TIMEOUT", `nothing for ${room}/${side} within ${waitMs} ms`);
      }
      return { lines: line };
    },
  },
};

const [ip, port] = process.argv.slice(2);
const server = await serve({ listen: { hostname: parsePeerIp(ip ?? ""), port: parsePort(port ?? "") }, ops, warn: (line) => console.error(line) });
console.error(`rendezvous listening on ${server.address}`);
process.on("SIGTERM", () => void server.stop().then(() => process.exit(0)));
