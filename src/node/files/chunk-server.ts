// Serving chunks to peers: of files shared whole and of downloads under way, in fair turns under --upload-limit, with the availability peers follow.

import { P2PError } from "../../protocol/errors";
import type { SharedFile } from "./catalog";
import type { Manifest } from "../../model/manifest";
import { chunkLength } from "./part-file";
import type { ServedPart } from "./ports";
import type { RateLimiter } from "./rate-limiter";
import { Bitfield, type HaveReport } from "../../model/bitfield";
import { UploadQueue } from "./upload-queue";
import { ServingStats } from "./transfers";
import type { ServedStore } from "./served-store";

/** How long a GET_HAVE with nothing new is held open waiting for news (callers wait a little longer). */
export const HAVE_WAIT_MS = 2_000;
/** Files whose per-chunk send counts are remembered (for GET_ANY_CHUNK); the least recently served are forgotten. */
const MAX_FILES_WITH_SEND_COUNTS = 64;

/** Who asks: a peer's address and the signal that fires when it hangs up. Absent: this node itself. */
export type Requester = { requester: string; signal?: AbortSignal } | undefined;

export class ChunkServer {
  private readonly uploads: UploadQueue;
  /** A file shared whole whose bytes on disk are still the ones announced, or null. */
  private readonly servable: (fileId: string) => SharedFile | null;
  /** Downloads under way: their verified chunks are served too. */
  private readonly partials = new Map<string, Partial>();
  private readonly sendCounts = new Map<string, Uint32Array>();
  /** What peers fetched from here, for TRANSFERS and SHARED. */
  readonly stats: ServingStats;

  constructor(options: { uploadLimiter: RateLimiter; servable: (fileId: string) => SharedFile | null; served?: ServedStore }) {
    this.stats = new ServingStats(options.served);
    this.uploads = new UploadQueue(options.uploadLimiter);
    this.servable = options.servable;
  }

  /** The manifest of a file this node shares whole or is downloading. */
  manifestFor(fileId: string): Manifest {
    const whole = this.servable(fileId);
    if (whole) return { fileId: whole.fileId, size: whole.size, chunkSize: whole.chunkSize, chunks: whole.chunks };
    const partial = this.partials.get(fileId);
    if (partial) return partial.part.manifest;
    throw notShared(fileId);
  }

  /** One chunk. A peer's request waits for its turn among all requesters and for --upload-limit. */
  async chunk(fileId: string, index: number, from: Requester): Promise<Uint8Array> {
    const source = this.source(fileId);
    if (!(Number.isSafeInteger(index) && index >= 0 && index < source.manifest.chunks.length)) {
      throw new P2PError("MALFORMED", `chunk ${index} is out of range: ${fileId.slice(0, 12)} has ${source.manifest.chunks.length} chunks`);
    }
    if (!source.has(index)) throw new P2PError("NOT_YET", `chunk ${index} of ${fileId.slice(0, 12)} is not here yet; this node is still downloading it`);
    const counts = this.countsFor(fileId, source.manifest.chunks.length);
    const pick = () => {
      counts[index]!++; // chunks asked by index count too: a seeder then chooses others for the rest
      return index;
    };
    return (await this.send(fileId, source, pick, from)).bytes;
  }

  /**
   * The chunk among `wanted` that this node has sent least: a seeder's uplink carries every chunk
   * once before any twice. Chosen when the requester's turn comes, with the counts of that moment.
   */
  async chosenChunk(fileId: string, wanted: Bitfield, from: Requester): Promise<{ index: number; bytes: Uint8Array }> {
    const source = this.source(fileId);
    const chunkCount = source.manifest.chunks.length;
    if (wanted.size !== chunkCount) throw new P2PError("MALFORMED", `a wanted list for ${fileId.slice(0, 12)} has one bit per chunk: ${Bitfield.byteLength(chunkCount)} bytes`);
    const counts = this.countsFor(fileId, chunkCount);
    const choose = () => {
      let best = -1;
      let ties = 0;
      for (const index of wanted.indices()) {
        if (!source.has(index)) continue;
        if (best < 0 || counts[index]! < counts[best]!) {
          best = index;
          ties = 1;
        } else if (counts[index] === counts[best] && Math.random() * ++ties < 1) {
          best = index;
        }
      }
      if (best < 0) throw new P2PError("NOT_YET", `none of the chunks asked for is here yet`);
      counts[best]!++; // counted when chosen, so the next requester in line is given another
      return best;
    };
    return this.send(fileId, source, choose, from);
  }

  /**
   * What this node has of a file. When the caller already knows `knownVersion` and nothing
   * changed, waits up to HAVE_WAIT_MS for news, so followers learn of a new chunk at once
   * without asking over and over.
   */
  async have(fileId: string, knownVersion: number | null, signal?: AbortSignal): Promise<HaveReport> {
    if (this.servable(fileId)) return { version: 0, have: null };
    const partial = this.partials.get(fileId);
    if (!partial) throw notShared(fileId);
    if (knownVersion === partial.version) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, HAVE_WAIT_MS);
        function done() {
          clearTimeout(timer);
          partial!.waiters.delete(done);
          signal?.removeEventListener("abort", done);
          resolve();
        }
        partial.waiters.add(done);
        signal?.addEventListener("abort", done, { once: true });
      });
    }
    const current = this.partials.get(fileId);
    if (!current) {
      if (this.servable(fileId)) return { version: 0, have: null };
      throw notShared(fileId);
    }
    return { version: current.version, have: current.part.verified.copy() };
  }

  /** A download's .part file is open: its verified chunks may be served from now on. */
  startPartial(part: ServedPart): void {
    this.partials.set(part.manifest.fileId, { part, version: 0, waiters: new Set() });
  }

  /** One more chunk verified and on disk: followers hear of it. */
  chunkStored(fileId: string): void {
    const partial = this.partials.get(fileId);
    if (!partial) return;
    partial.version++;
    wake(partial);
  }

  /** The download ended (complete, failed or cancelled). */
  endPartial(fileId: string): void {
    const partial = this.partials.get(fileId);
    this.partials.delete(fileId);
    if (partial) wake(partial);
  }

  private source(fileId: string): Source {
    const whole = this.servable(fileId);
    if (whole) {
      return {
        manifest: whole,
        has: () => true,
        read: (index) => Bun.file(whole.path).slice(index * whole.chunkSize, index * whole.chunkSize + chunkLength(whole, index)).bytes(),
      };
    }
    const partial = this.partials.get(fileId);
    if (partial) return { manifest: partial.part.manifest, has: (index) => partial.part.verified.has(index), read: (index) => partial.part.read(index) };
    throw notShared(fileId);
  }

  /**
   * The bytes are read only once the requester's turn comes, so a long queue holds no memory;
   * `pick` names the chunk then (and counts it as sent).
   */
  private async send(fileId: string, source: Source, pick: () => number, from: Requester): Promise<{ index: number; bytes: Uint8Array }> {
    if (from === undefined) {
      const index = pick();
      return { index, bytes: await source.read(index) };
    }
    let index = -1;
    let bytes = 0;
    const turn = () => {
      index = pick();
      return (bytes = chunkLength(source.manifest, index));
    };
    this.stats.started(fileId);
    try {
      const read = await this.uploads.serve({ requester: from.requester, bytes: turn, signal: from.signal }, () => source.read(index));
      this.stats.finished(fileId, bytes);
      return { index, bytes: read };
    } catch (error) {
      this.stats.finished(fileId, 0);
      throw error;
    }
  }

  private countsFor(fileId: string, chunkCount: number): Uint32Array {
    let counts = this.sendCounts.get(fileId);
    if (counts) this.sendCounts.delete(fileId); // re-inserted below: the map's order is recency
    else counts = new Uint32Array(chunkCount);
    this.sendCounts.set(fileId, counts);
    while (this.sendCounts.size > MAX_FILES_WITH_SEND_COUNTS) this.sendCounts.delete(this.sendCounts.keys().next().value!);
    return counts;
  }
}

interface Partial {
  part: ServedPart;
  /** Bumped with every chunk stored; a follower's GET_HAVE names the version it knows. */
  version: number;
  waiters: Set<() => void>;
}

interface Source {
  manifest: Manifest;
  has(index: number): boolean;
  read(index: number): Promise<Uint8Array>;
}

function wake(partial: Partial): void {
  for (const waiter of [...partial.waiters]) waiter();
}

function notShared(fileId: string): P2PError {
  return new P2PError("NOT_FOUND", `this node does not share ${fileId.slice(0, 12)} (or its file changed on disk)`);
}
