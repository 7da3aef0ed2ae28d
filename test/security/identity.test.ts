// A node's key pair and entry signatures: kept private on disk, stable across restarts, and broken by any change to a signed field.

import { afterAll, describe, expect, test } from "bun:test";
import { statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { IDENTITY_FILE, loadIdentity, verifyEntry } from "../../src/node/identity";
import { ringId } from "../../src/model/id";
import type { RecordEntry } from "../../src/model/record";
import { holderAddress, MAX_CLOCK_SKEW_MS } from "../../src/node/signed-records";
import { tempDir } from "../helpers/wait";

const dir = tempDir();
afterAll(() => dir.remove());

const entry: RecordEntry = { key: ringId("name:a.txt"), member: `${"a".repeat(64)}@127.0.0.2:7495`, value: "{}", updatedAt: 1_700_000_000_000, expiresAt: null, deleted: false };

describe("a node's identity", () => {
  test("the key pair is created once with mode 0600 and is the same after a restart", () => {
    const first = loadIdentity(join(dir.path, "node"));
    expect(statSync(join(dir.path, "node", IDENTITY_FILE)).mode & 0o777).toBe(0o600);
    expect(loadIdentity(join(dir.path, "node")).publicKey).toBe(first.publicKey);
    expect(first.publicKey).toMatch(/^[0-9a-f]{64}$/);
  });

  test("a signature verifies under its signer's key only, and any change to a signed field breaks it", () => {
    const signer = loadIdentity(join(dir.path, "signer"));
    const other = loadIdentity(join(dir.path, "other"));
    const signed = signer.signEntry(entry);
    expect(verifyEntry(signed, signer.publicKey)).toBe(true);
    expect(verifyEntry(signed, other.publicKey)).toBe(false);
    expect(verifyEntry(entry, signer.publicKey)).toBe(false);
    const changes: Partial<RecordEntry>[] = [{ key: ringId("x") }, { member: "b@127.0.0.2:7495" }, { value: "[]" }, { updatedAt: entry.updatedAt + 1 }, { expiresAt: 1 }, { deleted: true }, { signature: "AAAA" }];
    for (const change of changes) expect(verifyEntry({ ...signed, ...change }, signer.publicKey)).toBe(false);
  });

  test("a corrupt key file is one clear error", () => {
    const path = join(dir.path, "corrupt");
    loadIdentity(path);
    writeFileSync(join(path, IDENTITY_FILE), "not a key");
    expect(() => loadIdentity(path)).toThrow(/cannot load the node's key/);
  });

  test("an entry's holder is the ip:port after its last @, in its one spelling, and the clock-skew allowance is a minute", () => {
    expect(holderAddress(`${"a".repeat(64)}@127.0.0.2:7495`)).toBe("127.0.0.2:7495");
    expect(holderAddress("plain-member")).toBeNull();
    expect(holderAddress("x@not-an-address")).toBeNull();
    // Any spelling reads as the address's one spelling, which the store then insists on (test/security/addresses.test.ts).
    expect(holderAddress("x@::FFFF:127.0.0.2:7495")).toBe("127.0.0.2:7495");
    expect(holderAddress("x@[0:0:0:0:0:0:0:1]:7495")).toBe("[::1]:7495");
    expect(holderAddress("x@fe80::1%x1:7495")).toBeNull();
    expect(MAX_CLOCK_SKEW_MS).toBe(60_000);
  });
});
