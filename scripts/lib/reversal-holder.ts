// A holder that listens on no port, for the reversal test: it waits for a reversal notice through the relay stand-in, dials back, serves a file's chunk and its KEY.
//
// Usage: bun scripts/lib/reversal-holder.ts <rendezvous ip:port> <room> <file> <public key hex>

import { readFileSync } from "node:fs";
import { connect } from "../../src/protocol/client";
import { parseHostPort, splitAddress } from "../../src/protocol/address";
import { decodeLines } from "../../src/protocol/frame";
import { decodeReversalNotice, dialReversal } from "../../src/protocol/reversal";
import { opTable, serveOp } from "../../src/wire/op";
import { RING } from "../../src/wire/ring";

/** How long the holder waits for its notice, then for the reachable side to close the link. */
const NOTICE_WAIT_MS = 20_000;
const SERVE_LIMIT_MS = 20_000;

const [rendezvousText, room, file, publicKey] = process.argv.slice(2);
const bytes = readFileSync(file!);
const relay = await connect(parseHostPort(rendezvousText ?? "", 7600, "rendezvous"), { connectTimeoutMs: 5_000 });
console.error("holder waiting for a notice");
const line = decodeLines((await relay.request("RECV", [room!, "holder", String(NOTICE_WAIT_MS)], { timeoutMs: NOTICE_WAIT_MS + 2_000 })).body)[0]!;
relay.close();
const notice = decodeReversalNotice(line);
const { ip, port } = splitAddress(notice.address);
const ops = {
  ...opTable(serveOp(RING.KEY, () => publicKey!)),
  GET_CHUNK: { usage: "GET_CHUNK <index>", minArgs: 1, maxArgs: 1, handle: () => ({ body: bytes }) },
};
const served = await dialReversal({ hostname: ip, port }, notice.token, { ops, warn: (message) => console.error(message) });
console.error(`holder serving ${notice.address} over the reversed connection`);
await Promise.race([served.whenClosed, Bun.sleep(SERVE_LIMIT_MS)]);
console.error("holder done");
process.exit(0);
