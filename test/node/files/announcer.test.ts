// The Announcer's order of puts and withdrawals: a node that leaves is never announced again after its withdrawal.

import { describe, expect, test } from "bun:test";
import { Announcer } from "../../../src/node/files/announcer";
import type { FileRecords } from "../../../src/node/files/ports";
import { nameKey } from "../../../src/node/files/names";
import type { RecordEntry } from "../../../src/model/record";

const SELF = { id: "a".repeat(40), address: "127.0.0.2:7495" };
const FILE_A = { name: "alpha.txt", size: 10, fileId: "1".repeat(64) };
const FILE_B = { name: "beta.txt", size: 20, fileId: "2".repeat(64) };

/** Records every put and removal in the order they reach the ring; puts wait while `hold` is set. */
class RecordedRing implements FileRecords {
  readonly log: string[] = [];
  hold: Promise<void> | null = null;
  /** Puts that reached the ring, held or not. */
  putsStarted = 0;

  async get(): Promise<RecordEntry[]> {
    return [];
  }
  async put(key: string, member: string): Promise<unknown> {
    this.putsStarted++;
    if (this.hold) await this.hold;
    this.log.push(`put ${key.slice(0, 8)} ${member}`);
    return null;
  }
  async remove(key: string, member: string): Promise<unknown> {
    this.log.push(`remove ${key.slice(0, 8)} ${member}`);
    return null;
  }
}

/** Yields to queued callbacks until `condition` holds (bounded: it must hold within a few turns). */
async function turnsUntil(condition: () => boolean): Promise<void> {
  for (let turn = 0; turn < 100 && !condition(); turn++) await Promise.resolve();
  expect(condition()).toBe(true);
}

/** The last operation each (key, member) saw: what the ring keeps, newest write winning. */
function lastWrites(log: string[]): Map<string, string> {
  const last = new Map<string, string>();
  for (const line of log) {
    const [op, key, member] = line.split(" ");
    last.set(`${key} ${member}`, op!);
  }
  return last;
}

describe("Announcer when the node leaves", () => {
  test("an announce of a re-announce walk that starts after the leave's withdrawal puts nothing: every entry ends withdrawn", async () => {
    const ring = new RecordedRing();
    const announcer = new Announcer({ self: SELF, ring, ttlMs: 600_000 });
    let release!: () => void;
    ring.hold = new Promise<void>((resolve) => (release = resolve));
    // A re-announce walk: A's puts are under way; B comes next.
    const walk = (async () => {
      await announcer.announce(FILE_A);
      await announcer.announce(FILE_B);
    })();
    await turnsUntil(() => ring.putsStarted > 0);
    // The leave: announcing stops, then every file is withdrawn, B before the walk reaches it.
    announcer.stopAnnouncing();
    const withdrawB = announcer.withdraw(FILE_B);
    await withdrawB;
    const withdrawA = announcer.withdraw(FILE_A);
    ring.hold = null;
    release();
    await Promise.all([walk, withdrawA]);

    const writes = lastWrites(ring.log);
    expect(writes.size).toBeGreaterThan(0);
    expect([...writes.values()].every((op) => op === "remove")).toBe(true);
    expect(ring.log.filter((line) => line.startsWith(`put ${nameKey(FILE_B.name).slice(0, 8)}`))).toEqual([]);
  });

  test("an announce under way when the leave begins finishes first, and its withdrawal follows it", async () => {
    const ring = new RecordedRing();
    const announcer = new Announcer({ self: SELF, ring, ttlMs: 600_000 });
    let release!: () => void;
    ring.hold = new Promise<void>((resolve) => (release = resolve));
    const announce = announcer.announce(FILE_A);
    await turnsUntil(() => ring.putsStarted > 0);
    announcer.stopAnnouncing();
    const withdraw = announcer.withdraw(FILE_A);
    ring.hold = null;
    release();
    await Promise.all([announce, withdraw]);
    const underName = ` ${nameKey(FILE_A.name).slice(0, 8)} ${FILE_A.fileId}@${SELF.address}`;
    expect(ring.log.filter((line) => line.endsWith(underName))).toEqual([`put${underName}`, `remove${underName}`]);
  });
});
