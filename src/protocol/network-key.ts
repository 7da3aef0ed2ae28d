// The private network's key file: 32 random bytes as 64 hex digits on one line; `p2p keygen` writes it, --key reads it.

import { randomBytes } from "node:crypto";
import { closeSync, constants, fstatSync, openSync, readSync, writeFileSync } from "node:fs";
import { P2PError } from "./errors";
import { PSK_BYTES } from "./noise/handshake";

/** The key's length: Noise's pre-shared key. */
export const NETWORK_KEY_BYTES = PSK_BYTES;

/** A key file is one line; anything much longer is not one (and is not read whole). */
const MAX_KEY_FILE_BYTES = 1024;

export interface LoadedKey {
  key: Uint8Array;
  /** Set when the file is readable by group or others: worth a warning, not a refusal. */
  exposed: boolean;
}

/**
 * Writes a new random key to `path` with mode 0600. An existing file is kept (CONFLICT) unless `force`:
 * overwriting a network's key by accident would cut this machine off from it.
 */
export function writeNetworkKey(path: string, options: { force?: boolean } = {}): void {
  const line = `${Buffer.from(randomBytes(NETWORK_KEY_BYTES)).toString("hex")}\n`;
  try {
    writeFileSync(path, line, { mode: 0o600, flag: options.force ? "w" : "wx" });
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === "EEXIST") throw new P2PError("CONFLICT", `${path} already exists; pass --force to replace it (every node and DNS of the network then needs the new key)`);
    throw new P2PError("ERROR", `cannot write the network key to ${path}: ${reason(error)}`, { cause: error });
  }
}

/** Reads a key file; a missing, unreadable or malformed one is a MALFORMED error naming the file and what is wrong. */
export function readNetworkKey(path: string): LoadedKey {
  let text: string;
  let mode: number;
  try {
    const fd = openSync(path, constants.O_RDONLY);
    try {
      const stat = fstatSync(fd);
      if (!stat.isFile()) throw new P2PError("MALFORMED", `the network key ${path} is not a file`);
      if (stat.size > MAX_KEY_FILE_BYTES) throw malformed(path);
      mode = stat.mode;
      const buffer = Buffer.alloc(stat.size);
      readSync(fd, buffer, 0, stat.size, 0);
      text = buffer.toString("utf8");
    } finally {
      closeSync(fd);
    }
  } catch (error) {
    if (error instanceof P2PError) throw error;
    const hint = (error as { code?: string }).code === "ENOENT" ? " (create one with `p2p keygen --out FILE`)" : "";
    throw new P2PError("MALFORMED", `cannot read the network key ${path}: ${reason(error)}${hint}`, { cause: error });
  }
  const hex = text.trim();
  if (!/^[0-9a-fA-F]{64}$/.test(hex)) throw malformed(path);
  return { key: new Uint8Array(Buffer.from(hex, "hex")), exposed: (mode & 0o077) !== 0 };
}

function malformed(path: string): P2PError {
  return new P2PError("MALFORMED", `${path} is not a network key: expected ${NETWORK_KEY_BYTES * 2} hex digits on one line, as \`p2p keygen\` writes`);
}

function reason(error: unknown): string {
  const code = (error as { code?: string }).code;
  if (code === "ENOENT") return "no such file";
  if (code === "EACCES" || code === "EPERM") return "permission denied";
  if (code === "EISDIR") return "it is a directory";
  return (error as Error).message ?? String(error);
}
