// A testnet's nodes yield the cores to its DNS: on one machine the DNS stands in for a machine of its own.

import { afterEach, expect, test } from "bun:test";
import { getPriority } from "node:os";
import { type Testnet, createTestnet } from "../../src/testnet";
import { NODE_NICENESS } from "../../src/testnet/nodes";

let net: Testnet | null = null;
afterEach(async () => {
  await net?.close();
  net = null;
});

test("a testnet's nodes run NODE_NICENESS below the DNS, and a restarted node does too", async () => {
  let dnsPid = 0;
  net = await createTestnet({ nodes: 2, onSpawn: (role, proc) => void (role === "dns" && (dnsPid = proc.pid)) });
  expect(getPriority(dnsPid)).toBe(getPriority());
  for (const node of net.nodes) expect(getPriority(node.process.pid)).toBe(Math.min(19, getPriority() + NODE_NICENESS));
  await net.stopNode(net.nodes[1]!);
  const restarted = await net.restartNode(net.nodes[1]!);
  expect(getPriority(restarted.process.pid)).toBe(Math.min(19, getPriority() + NODE_NICENESS));
}, 60_000);
