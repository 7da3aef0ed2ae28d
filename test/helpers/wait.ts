// Polling with a deadline: tests wait for a condition, never for a fixed time.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** Calls `check` until it returns a truthy value or the deadline passes (then throws, naming `what`). */
export async function waitFor<T>(what: string, check: () => T | Promise<T>, timeoutMs = 10_000, intervalMs = 50): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown = null;
  for (let attempt = 0; attempt < 100_000; attempt++) {
    try {
      const value = await check();
      if (value) return value as NonNullable<T>;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) break;
    await Bun.sleep(intervalMs);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError ? `: ${String(lastError)}` : ""}`);
}

/** Whether this host has IPv6 loopback: some containers have none. */
export function hasIpv6Loopback(): boolean {
  try {
    Bun.listen({ hostname: "::1", port: 0, socket: { data() {} } }).stop(true);
    return true;
  } catch {
    return false;
  }
}

/** A loopback address of its own for one test: 127.64-254.x.y never collides with a demo on 127.0.0.x. */
export function loopbackAddress(): string {
  const octet = (low: number, high: number) => low + Math.floor(Math.random() * (high - low + 1));
  return `127.${octet(64, 254)}.${octet(0, 255)}.${octet(2, 254)}`;
}

/** A temporary directory removed by the returned cleanup. */
export function tempDir(prefix = "p2p-test-"): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}
