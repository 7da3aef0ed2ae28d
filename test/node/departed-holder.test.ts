// Removals by a holder that left gracefully travel on with replication after it has gone: refused quietly, while other refusals are warnings.

import { describe, expect, test } from "bun:test";
import { P2PError } from "../../src/protocol/errors";
import type { RecordEntry } from "../../src/model/record";
import { admitEntries, HolderKeys } from "../../src/node/signed-records";

const NOW = 1_700_000_000_000;
const GONE = "127.0.0.9:7495";

/** Holder keys learnt through a network where the departed holder's address answers nothing. */
function keysWithHolderGone(): HolderKeys {
  const send = async (): Promise<never> => {
    throw new P2PError("UNREACHABLE", `cannot reach ${GONE}`);
  };
  return new HolderKeys({ send } as never, { address: "127.0.0.2:7495", publicKey: "self" }, () => NOW);
}

function entry(member: string, deleted: boolean): RecordEntry {
  return { key: "ab".repeat(20), member, value: deleted ? "" : "v", updatedAt: NOW - 1_000, expiresAt: NOW + 3_600_000, deleted, signature: "c2ln" };
}

function logs() {
  const warnings: string[] = [];
  const debugs: string[] = [];
  return { warnings, debugs, warn: (message: string) => warnings.push(message), debug: (message: string) => debugs.push(message) };
}

describe("records of a holder that has gone", () => {
  test("its removals, refused for want of its key, are a debug line, and the rest of the batch is stored", async () => {
    const log = logs();
    const plain = { ...entry("someone", false), signature: undefined };
    const batch = [plain, entry(`file-1@${GONE}`, true), entry(`file-2@${GONE}`, true)];
    const kept = await admitEntries(batch, keysWithHolderGone(), NOW, log.warn, log.debug);
    expect(kept).toEqual([plain]);
    expect(log.warnings).toEqual([]);
    expect(log.debugs).toEqual([expect.stringContaining(`refused 2 of 3 records: record 1 names holder ${GONE}, which does not answer KEY`)]);
  });

  test("a live announcement of a holder that does not answer KEY is still a warning", async () => {
    const log = logs();
    const plain = { ...entry("someone", false), signature: undefined };
    await admitEntries([plain, entry(`file-1@${GONE}`, false)], keysWithHolderGone(), NOW, log.warn, log.debug);
    expect(log.warnings).toEqual([expect.stringContaining("does not answer KEY")]);
    expect(log.debugs).toEqual([]);
  });
});
