// The peers a node knew, kept in its data dir (known-peers.json) so it can find the ring again without the DNS.

import { readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Peer } from "../model/peer";
import { parsePeerJson } from "../wire/codec";

/** How many peers the file keeps: enough that some are alive after a long absence, small enough to try them all. */
export const MAX_KNOWN_PEERS = 32;
export const KNOWN_PEERS_FILE = "known-peers.json";
/** A file larger than this is not ours (or is damaged): ignored rather than parsed. */
const MAX_FILE_BYTES = 64 * 1024;

export class KnownPeers {
  readonly path: string;
  private saved = "";

  constructor(dataDir: string) {
    this.path = join(dataDir, KNOWN_PEERS_FILE);
  }

  /**
   * The peers saved last time, nearest first; [] when there is no file. A damaged file or entry is
   * skipped with a warning: it only costs this node a shortcut back into the ring.
   */
  load(warn: (message: string) => void): Peer[] {
    let text: string;
    try {
      text = readFileSync(this.path, "utf8");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") warn(`cannot read ${this.path}: ${(error as Error).message}`);
      return [];
    }
    if (text.length > MAX_FILE_BYTES) {
      warn(`${this.path} is over ${MAX_FILE_BYTES} bytes; ignoring it`);
      return [];
    }
    let listed: unknown;
    try {
      listed = (JSON.parse(text) as { peers?: unknown }).peers;
    } catch {
      warn(`${this.path} is not valid JSON; ignoring it`);
      return [];
    }
    if (!Array.isArray(listed)) return [];
    const peers: Peer[] = [];
    for (const entry of listed.slice(0, MAX_KNOWN_PEERS)) {
      try {
        peers.push(parsePeerJson(entry));
      } catch (error) {
        warn(`skipping a bad entry in ${this.path}: ${(error as Error).message}`);
      }
    }
    this.saved = serialize(peers);
    return peers;
  }

  /**
   * Replaces the file with `peers` (first MAX_KNOWN_PEERS, duplicates dropped) when they differ
   * from what it holds. Written to a temporary file and renamed, so a crash never leaves half a list.
   */
  save(peers: readonly Peer[], self: Peer): void {
    const seen = new Set<string>([self.address]);
    const kept: Peer[] = [];
    for (const peer of peers) {
      if (kept.length >= MAX_KNOWN_PEERS) break;
      if (seen.has(peer.address)) continue;
      seen.add(peer.address);
      kept.push({ id: peer.id, address: peer.address });
    }
    // An empty list would throw away what a node alone for a moment still needs to find its way back.
    if (kept.length === 0) return;
    const text = serialize(kept);
    if (text === this.saved) return;
    const temporary = `${this.path}.${process.pid}.tmp`;
    try {
      writeFileSync(temporary, text, { mode: 0o600 });
      renameSync(temporary, this.path);
      this.saved = text;
    } finally {
      rmSync(temporary, { force: true });
    }
  }
}

function serialize(peers: readonly Peer[]): string {
  return `${JSON.stringify({ peers }, null, 1)}\n`;
}
