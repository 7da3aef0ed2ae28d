// A hostile peer for the attack tests: raw wire requests to a real node or DNS, and the files it attacks.

import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { connect, type ProtocolClient } from "../../src/protocol/client";
import type { Testnet, TestnetNode } from "../../src/testnet";

/** Opens a raw protocol connection to `ip:port`, as any outsider can; closed by `closeAll`. */
export async function hostileLink(address: string, opened: ProtocolClient[]): Promise<ProtocolClient> {
  const colon = address.lastIndexOf(":");
  const client = await connect({ hostname: address.slice(0, colon), port: Number(address.slice(colon + 1)) });
  opened.push(client);
  return client;
}

/** Writes `bytes` as `name` in `dir`, uploads it from `node`; returns its file id. */
export async function share(net: Testnet, node: TestnetNode, dir: string, name: string, bytes: Uint8Array): Promise<string> {
  const path = join(dir, name);
  writeFileSync(path, bytes);
  const reply = JSON.parse(new TextDecoder().decode(await net.control(node, "UPLOAD", [path]))) as { id: string };
  return reply.id;
}

/** Downloads `name` on `node` into `dir`; returns the bytes written and the report. */
export async function fetchFile(net: Testnet, node: TestnetNode, name: string, out: string): Promise<{ bytes: Uint8Array; id: string }> {
  const report = JSON.parse(new TextDecoder().decode(await net.control(node, "DOWNLOAD", [name, out]))) as { id: string };
  return { bytes: new Uint8Array(await Bun.file(out).arrayBuffer()), id: report.id };
}
