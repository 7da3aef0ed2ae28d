// A client talking to a node of another p2p version: a reply without the fields it reads is one clear line, never a stack trace.

import { afterAll, afterEach, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { EXIT } from "../../src/cli/exit-codes";
import { type ProtocolServer, serve } from "../../src/protocol/server";
import { CONTROL, type NodeStatus } from "../../src/wire/control";
import { opTable, serveOp } from "../../src/wire/op";
import { builtBinary } from "../helpers/binary";
import { runP2P, stopAllProcesses } from "../helpers/processes";
import { tempDir } from "../helpers/wait";

const dir = tempDir();
const servers: ProtocolServer[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) await server.stop();
  await stopAllProcesses();
});
afterAll(() => dir.remove());

describe("a node of another version", () => {
  test("status against a node whose STATUS reply lacks fields says which, and to restart the node, in one line", async () => {
    const socket = join(dir.path, "node.sock");
    // What an older node might answer: no fingers, no record counts.
    const older = { id: "ab".repeat(20), address: "127.0.0.2:7495", predecessor: null, successors: [], dns: "127.0.0.1:7494" } as unknown as NodeStatus;
    servers.push(await serve({ listen: { unix: socket }, ops: opTable(serveOp(CONTROL.STATUS, () => older)), warn: () => {} }));
    const binary = await builtBinary();
    const result = await runP2P(["client", "status", "--socket", socket], { executable: [binary], timeoutMs: 20_000 });
    expect(result.code).toBe(EXIT.FAILURE);
    expect(result.stderr).toBe("error: the node's STATUS reply has 'fingers' missing or not a list; the node may run another version of p2p: restart it with this binary\n");
    expect(result.stdout).toBe("");
  }, 60_000);
});
