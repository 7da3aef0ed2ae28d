// A client command costs one connection and one round trip to the node: the liveness PING and the op go out together.

import { afterAll, afterEach, describe, expect, test } from "bun:test";
import { join } from "node:path";
import type { Socket } from "bun";
import { encodeResponse } from "../../src/protocol/frame";
import type { NodeStatus } from "../../src/wire/control";
import { builtBinary } from "../helpers/binary";
import { runP2P, stopAllProcesses } from "../helpers/processes";
import { tempDir } from "../helpers/wait";

const dir = tempDir();
const listeners: { stop(closeActive?: boolean): void }[] = [];
afterEach(async () => {
  for (const listener of listeners.splice(0)) listener.stop(true);
  await stopAllProcesses();
});
afterAll(() => dir.remove());

const STATUS: NodeStatus = {
  id: "ab".repeat(20),
  address: "127.0.0.2:7495",
  predecessor: null,
  successors: [],
  fingers: [],
  records: { primary: 0, replica: 0 },
  dns: "127.0.0.1:7494",
  dataDir: "/tmp/x",
  uptimeSeconds: 1,
};

describe("client status", () => {
  test("asks the node over one connection, sending STATUS without waiting for the PONG", async () => {
    const socketPath = join(dir.path, "node.sock");
    let connections = 0;
    // Answers only once PING and STATUS have both arrived: a client that waits for the PONG before sending
    // STATUS gets nothing, and gives up after its PING deadline.
    const listener = Bun.listen<{ received: string }>({
      unix: socketPath,
      socket: {
        open: (socket: Socket<{ received: string }>) => {
          connections++;
          socket.data = { received: "" };
        },
        data: (socket: Socket<{ received: string }>, bytes: Buffer) => {
          socket.data.received += bytes.toString();
          if (!socket.data.received.includes("PING\r\n") || !socket.data.received.includes("STATUS\r\n")) return;
          const pong = encodeResponse(200, "OK", new TextEncoder().encode("PONG\r\n"));
          const status = encodeResponse(200, "OK", new TextEncoder().encode(JSON.stringify(STATUS)));
          for (const part of [...pong, ...status]) socket.write(part);
        },
      },
    });
    listeners.push(listener);
    const binary = await builtBinary();
    const result = await runP2P(["client", "status", "--socket", socketPath], { executable: [binary], timeoutMs: 20_000 });
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    expect(result.stdout).toContain("127.0.0.2:7495");
    expect(connections).toBe(1);
  }, 60_000);
});
