// A running node is as the docs describe it: its data directory holds exactly the files `p2p node --help` and
// README name, and its STATUS reply has exactly the fields docs/PROTOCOL.md lists.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readdirSync } from "node:fs";
import { dirname } from "node:path";
import { type Testnet, createTestnet } from "../../src/testnet";
import { builtBinary } from "../helpers/binary";
import { readDocument } from "../helpers/docs";
import { runP2P, stopAllProcesses } from "../helpers/processes";
import { waitFor } from "../helpers/wait";

let net: Testnet;

beforeAll(async () => {
  const binary = await builtBinary();
  net = await createTestnet({ nodes: 2, executable: [binary], nodeArgs: ["--stabilize", "200"] });
}, 120_000);

afterAll(async () => {
  await stopAllProcesses();
  await net?.close();
});

/** SQLite's own files beside a database come and go with its journal: they are part of the database. */
const SQLITE_SIDECAR = /-(wal|shm|journal)$/;

/** The file names (with an extension) in a piece of text. */
const fileNames = (text: string) => new Set([...text.matchAll(/[\w-]+\.(?:sock|db|pem|json)\b/g)].map((match) => match[0]));

describe("a running node", () => {
  test("keeps in its data directory exactly the files node --help and README name", async () => {
    const joiner = net.nodes[1]!;
    const dataDir = dirname(joiner.socketPath);
    // The joiner writes the peers it knows once it is in the ring.
    await waitFor("known-peers.json in the joiner's data directory", () => existsSync(`${dataDir}/known-peers.json`), 20_000);
    const present = readdirSync(dataDir).filter((name) => !SQLITE_SIDECAR.test(name)).sort();

    const help = await runP2P(["node", "--help"], { executable: [await builtBinary()] });
    const dataLine = help.stdout.split("\n").find((line) => line.trim().startsWith("--data="));
    expect(dataLine).toBeDefined();
    expect([...fileNames(dataLine!)].sort()).toEqual(present);

    const paragraph = /^A node keeps its data in .*$/m.exec(readDocument("README.md"))?.[0] ?? "";
    expect([...fileNames(paragraph)].sort()).toEqual(present);
  }, 60_000);

  test("answers STATUS with exactly the fields docs/PROTOCOL.md lists", async () => {
    const node = net.nodes[0]!;
    const status = await runP2P(["client", "status", "--json", "--node", node.ip], { executable: [await builtBinary()], env: { P2P_HOME: net.home } });
    expect(status.code).toBe(0);
    const reply = JSON.parse(status.stdout) as Record<string, unknown>;

    const row = /^\| `STATUS` \| (.*) \|$/m.exec(readDocument("docs/PROTOCOL.md"))?.[1] ?? "";
    const documented = new Set([...row.matchAll(/"(\w+)"/g)].map((match) => match[1]!));
    // Every field of the reply is documented, and every documented name is a field (at the top or in a nested peer).
    const nested = (value: unknown): string[] =>
      Array.isArray(value) ? value.flatMap(nested) : value && typeof value === "object" ? Object.entries(value).flatMap(([key, inner]) => [key, ...nested(inner)]) : [];
    expect(Object.keys(reply).filter((key) => !documented.has(key))).toEqual([]);
    expect([...documented].filter((name) => !nested(reply).includes(name))).toEqual([]);
    expect(reply.privateNetwork).toBe(false);
  }, 60_000);
});
