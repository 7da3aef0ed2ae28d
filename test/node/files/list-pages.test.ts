// LIST_ALL_FILES in pages: a node holding more file entries than fit in one frame is listed whole, from any node.

import { afterEach, describe, expect, test } from "bun:test";
import { nameKey } from "../../../src/node/files/names";
import { defaultDataDir } from "../../../src/node/home";
import { loadIdentity } from "../../../src/node/identity";
import type { RecordEntry } from "../../../src/model/record";
import { connect } from "../../../src/protocol/client";
import { MAX_BODY_BYTES } from "../../../src/protocol/limits";
import { type Testnet, createTestnet } from "../../../src/testnet";
import { runP2P } from "../../helpers/processes";

describe("listing a network whose records outgrow one frame", () => {
  let net: Testnet | null = null;
  afterEach(async () => {
    await net?.close();
    net = null;
  });

  test("every node lists every file even when one node's file entries are larger than a frame", async () => {
    net = await createTestnet({ nodes: 2, nodeArgs: ["--stabilize", "200"] });
    await net.waitForConsistentRing(30_000);
    const [crowded, other] = net.nodes as [(typeof net.nodes)[0], (typeof net.nodes)[0]];
    const [ip, port] = crowded.address.split(":") as [string, string];
    // Announcements the crowded node signed itself (its key from its data dir): a lister believes only
    // entries signed by the holder they name. Large values make a few thousand outgrow a frame.
    const identity = loadIdentity(defaultDataDir(ip, Number(port), net.home));
    const link = await connect({ hostname: ip, port: Number(port) });
    const files = 1_200;
    const batch = 100;
    const pad = "x".repeat(15_000);
    let bytes = 0;
    try {
      for (let first = 0; first < files; first += batch) {
        const entries: RecordEntry[] = Array.from({ length: batch }, (_, offset) => {
          const file = first + offset;
          const name = `popular-${String(file).padStart(4, "0")}.iso`;
          const fileId = file.toString(16).padStart(64, "0");
          const value = JSON.stringify({ kind: "file", name, size: 4096, fileId, holder: crowded.address, pad });
          return identity.signEntry({ key: nameKey(name), member: `${fileId}@${crowded.address}`, value, updatedAt: Date.now(), expiresAt: Date.now() + 600_000, deleted: false });
        });
        const body = Buffer.from(JSON.stringify(entries));
        bytes += body.length;
        await link.request("PUT_RECORDS", [], { body });
      }
    } finally {
      link.close();
    }
    // The premise: one reply holding them all would break the frame limit.
    expect(bytes).toBeGreaterThan(MAX_BODY_BYTES);
    // Storing and replicating 18 MB of entries keeps both nodes busy for seconds; on a loaded machine a
    // node may drop its neighbour for a moment meanwhile. This test is about paging: list once the
    // ring has settled again.
    await net.waitForConsistentRing(30_000);

    for (const node of [crowded, other]) {
      const result = await runP2P(["client", "list", "--json", "--node", node.ip], { env: net.env, timeoutMs: 60_000 });
      expect(result.stderr).toBe("");
      const listed = JSON.parse(result.stdout) as Array<{ name: string; holders: number }>;
      expect(listed.length).toBe(files);
      expect(listed.every((file) => file.holders === 1)).toBe(true);
    }
  }, 120_000);
});
