// File sharing on the ring: share (hash, catalog, announce), list, search, download, and serving chunks.

import { existsSync, statSync } from "node:fs";
import { basename, resolve } from "node:path";
import { P2PError, isP2PError } from "../../protocol/errors";
import type { ChordNode } from "../ring/chord";
import { inOpenInterval, ringDistance, type RingId } from "../ring/id";
import type { RecordEntry } from "../ring/records";
import type { Peer } from "../ring/transport";
import type { TcpTransport } from "../tcp-transport";
import type { CatalogStore, SharedFile } from "./catalog";
import { ChunkServer } from "./chunk-server";
import { type DownloadProgress, runDownload } from "./download";
import { type Manifest, checkManifest, hashFile } from "./manifest";
import { MAX_INDEXED_WORDS, checkShareName, nameKey, parseNameRef, wordKey, wordsOf } from "./names";
import type { PartFile } from "./part-file";
import type { RateLimiter } from "./rate-limiter";
import type { Holder } from "./swarm/file-peers";
import { tcpFilePeers } from "./tcp-file-peers";

export const DEFAULT_ANNOUNCE_INTERVAL_MS = 5 * 60_000;
/** Holder entries expire unless re-announced: about twice the interval, as BitTorrent and IPFS do. */
export const ANNOUNCE_TTL_FACTOR = 2;
/** Nodes one LIST visits at once, and at most in all. */
const LIST_CONCURRENCY = 16;
const MAX_LIST_VISITS = 4096;
/** Encoded file entries in one LIST_ALL_FILES reply: pages keep every reply far below the frame limit. */
export const LIST_PAGE_BYTES = 1024 * 1024;
/** Pages one LIST reads from one node (a node stores at most MAX_STORED_RECORD_BYTES of records). */
const MAX_LIST_PAGES_PER_NODE = 128;
/** Files one LIST answers the client with; past it the reply would outgrow a frame: search instead. */
export const MAX_LIST_FILES = 50_000;
/** How long a node answering one LIST_ALL_FILES page may stay silent. */
const LIST_STEP_TIMEOUT_MS = 10_000;
/** Close matches offered when a name is not found. */
const MAX_SUGGESTIONS = 5;

/** One LIST_ALL_FILES reply: a page of a node's file entries, its routing peers below the limit, the next page's cursor. */
export interface ListStep {
  files: RecordEntry[];
  children: Peer[];
  next: string | null;
}

/** What list and search return per file. */
export interface FileSummary {
  name: string;
  size: number;
  id: string;
  holders: number;
}

/** The value of an announcement entry; its member is `<fileId>@<holder>`. */
export interface Announcement {
  kind: "file" | "word";
  name: string;
  size: number;
  fileId: string;
  holder: string;
  /** Still downloading: it serves the chunks it has verified (announced under the name only). */
  partial?: boolean;
}

export interface SharingOptions {
  self: Peer;
  ring: ChordNode;
  transport: TcpTransport;
  catalog: CatalogStore;
  uploadLimiter: RateLimiter;
  announceIntervalMs?: number;
  warn: (message: string) => void;
}

export class FileSharing {
  private readonly options: SharingOptions;
  private readonly announceTtlMs: number;
  private readonly announceIntervalMs: number;
  private readonly refreshing = new Set<string>();
  /** Serves chunks of files shared whole and of downloads under way. */
  readonly server: ChunkServer;
  /** Downloads under way, by file id: their partial announcements are renewed with the rest. */
  private readonly downloading = new Map<string, { name: string; size: number }>();

  constructor(options: SharingOptions) {
    this.options = options;
    this.server = new ChunkServer({ uploadLimiter: options.uploadLimiter, servable: (fileId) => this.servable(fileId) });
    this.announceIntervalMs = options.announceIntervalMs ?? DEFAULT_ANNOUNCE_INTERVAL_MS;
    this.announceTtlMs = this.announceIntervalMs * ANNOUNCE_TTL_FACTOR;
  }

  get interval(): number {
    return this.announceIntervalMs;
  }

  /** Shares a file in place: hashes it (unless unchanged since last time), catalogs and announces it. */
  async share(path: string, name: string | undefined, onProgress?: (bytes: number, total: number) => void, signal?: AbortSignal): Promise<FileSummary> {
    const absolute = resolve(path);
    const shareName = checkShareName(name ?? basename(absolute));
    const stat = statOrThrow(absolute);
    const known = this.options.catalog.byPath(absolute).find((file) => file.size === stat.size && file.mtimeMs === stat.mtimeMs);
    const manifest: Manifest & { mtimeMs: number } = known ?? (await hashFile(absolute, { onProgress, signal }));
    const file: SharedFile = { ...manifest, name: shareName, path: absolute, mtimeMs: manifest.mtimeMs };
    this.options.catalog.share(file);
    await this.announce(file);
    return { name: shareName, size: file.size, id: file.fileId, holders: 1 };
  }

  /** Every file in the network, each once, gathered by a broadcast over the fingers. */
  async list(): Promise<FileSummary[]> {
    const entries = new Map<string, RecordEntry>();
    for (const entry of await this.collectAll()) entries.set(`${entry.key}/${entry.member}`, entry);
    const files = summarize([...entries.values()], "file");
    if (files.length > MAX_LIST_FILES) {
      throw new P2PError("UNAVAILABLE", `the network shares ${files.length} files, more than list shows (${MAX_LIST_FILES}); use search`);
    }
    return files;
  }

  /** Whole words cost one lookup each; anything else falls back to matching over the list. */
  async search(term: string): Promise<FileSummary[]> {
    const needle = term.trim().toLowerCase();
    if (needle.length === 0) throw new P2PError("MALFORMED", "search for what? give a word or part of a name");
    const words = wordsOf(needle);
    if (words.length > 0 && words.length <= MAX_INDEXED_WORDS) {
      let found: FileSummary[] | null = null;
      for (const word of words) {
        const hits = summarize(await this.options.ring.get(wordKey(word)), "word");
        found = found === null ? hits : found.filter((file) => hits.some((hit) => hit.id === file.id && hit.name === file.name));
      }
      const exact = (found ?? []).filter((file) => file.name.toLowerCase().includes(needle) || words.every((word) => wordsOf(file.name).includes(word)));
      if (exact.length > 0) return exact;
    }
    return (await this.list()).filter((file) => file.name.toLowerCase().includes(needle));
  }

  /** Downloads `ref` (a name, or `name@idprefix`) to `outPath`; resumes a .part left by an earlier attempt. */
  async download(
    ref: string,
    outPath: string | undefined,
    options: { force?: boolean; onProgress?: (progress: DownloadProgress & { name: string; id: string }) => void; signal?: AbortSignal } = {},
  ) {
    const started = performance.now();
    const { name, idPrefix } = parseNameRef(ref);
    checkShareName(name);
    const entries = await this.options.ring.get(nameKey(name));
    const candidates = summarize(entries, "file").filter((file) => idPrefix === null || file.id.startsWith(idPrefix));
    if (candidates.length === 0) throw await this.notFound(name, idPrefix);
    if (candidates.length > 1) {
      const choices = candidates.map((file) => `${file.name}@${file.id.slice(0, 12)} (${file.size} bytes, ${file.holders} holders)`);
      throw new P2PError("CONFLICT", `'${name}' names ${candidates.length} different files; pick one with name@id: ${choices.join(", ")}`);
    }
    const target = candidates[0]!;
    const out = resolve(outPath ?? name);
    if (existsSync(out) && !options.force) throw new P2PError("CONFLICT", `${out} already exists; use --force to overwrite it`);

    const holders = holdersOf(entries, target.id);
    const manifest = await this.fetchManifest(target.id, holders.map((holder) => holder.address));
    const peers = tcpFilePeers({
      fileId: target.id,
      chunkCount: manifest.chunks.length,
      selfAddress: this.options.self.address,
      transport: this.options.transport,
      holders: async () => holdersOf(await this.options.ring.get(nameKey(name)), target.id).filter((holder) => holder.address !== this.options.self.address),
      local: {
        chunk: (fileId, index) => this.server.chunk(fileId, index, undefined),
        chosenChunk: (fileId, wanted) => this.server.chosenChunk(fileId, wanted, undefined),
        have: (fileId, version) => this.server.have(fileId, version),
      },
    });
    let announcedPartial = false;
    this.downloading.set(target.id, { name, size: manifest.size });
    let result;
    try {
      result = await runDownload({
        manifest,
        name,
        outPath: out,
        catalog: this.options.catalog,
        peers,
        onProgress: (progress) => options.onProgress?.({ ...progress, name, id: target.id }),
        onOpen: (part) => this.server.startPartial(part),
        onStored: (_index, part) => {
          this.server.chunkStored(target.id);
          if (announcedPartial) return;
          // From its first verified chunk on, this node serves the file to the rest of the swarm.
          announcedPartial = true;
          void this.announcePartial(part, name).catch((error) => this.options.warn(`could not announce ${name} as partly held: ${error.message}`));
        },
        signal: options.signal,
      });
    } catch (error) {
      this.downloading.delete(target.id);
      this.server.endPartial(target.id);
      if (announcedPartial) await this.withdrawPartial(target.id, name).catch(() => {});
      throw error;
    }
    this.downloading.delete(target.id);
    // Now a holder itself: no re-hash, the manifest was verified chunk by chunk.
    const stat = statSync(out);
    const file: SharedFile = { ...manifest, name, path: out, mtimeMs: stat.mtimeMs };
    this.options.catalog.share(file);
    this.server.endPartial(target.id);
    await this.announce(file).catch((error) => this.options.warn(`downloaded ${name} but could not announce it: ${(error as Error).message}`));
    return {
      name,
      size: manifest.size,
      id: manifest.fileId,
      path: out,
      sources: result.sourcesUsed,
      badSources: result.badSources,
      resumedChunks: result.resumedChunks,
      milliseconds: Math.round(performance.now() - started),
    };
  }

  // ---- serving peers ----------------------------------------------------------------------------

  /**
   * This node's share of LIST_ALL_FILES: one page of its file entries (those after the cursor
   * `after`, in key/member order), the routing peers in (self, limit), and the cursor of the next
   * page (null on the last).
   */
  listStep(limit: RingId, after: string | null = null): ListStep {
    const self = this.options.self;
    const children = this.options.ring.routingPeers().filter((peer) => inOpenInterval(peer.id, self.id, limit) || limit === self.id);
    const cursorOf = (entry: RecordEntry) => `${entry.key}/${entry.member}`;
    const all = this.localFileEntries()
      .filter((entry) => after === null || cursorOf(entry) > after)
      .sort((a, b) => (cursorOf(a) < cursorOf(b) ? -1 : 1));
    const files: RecordEntry[] = [];
    let bytes = 0;
    for (const entry of all) {
      // About what the entry takes as JSON: its strings plus the field names and numbers.
      bytes += entry.key.length + entry.member.length + entry.value.length + 100;
      if (bytes > LIST_PAGE_BYTES && files.length > 0) return { files, children, next: cursorOf(files.at(-1)!) };
      files.push(entry);
    }
    return { files, children, next: null };
  }

  // ---- announcements ----------------------------------------------------------------------------

  /** Re-announces everything shared; withdraws files that vanished and re-hashes files that changed. */
  async refreshAll(): Promise<void> {
    for (const [fileId, download] of this.downloading) {
      await this.putPartial(fileId, download.name, download.size).catch((error) => this.options.warn(`could not re-announce ${download.name} as partly held: ${error.message}`));
    }
    for (const file of this.options.catalog.allShared()) {
      try {
        await this.refresh(file);
      } catch (error) {
        if (!isP2PError(error)) throw error;
        this.options.warn(`could not re-announce ${file.name}: ${error.message}`);
      }
    }
  }

  /** Withdraws every announcement of this node at once (graceful leave), so nobody is sent here. */
  async withdrawAll(): Promise<void> {
    for (const file of this.options.catalog.allShared()) {
      await this.withdraw(file).catch((error) => this.options.warn(`could not withdraw ${file.name}: ${(error as Error).message}`));
    }
  }

  private async refresh(file: SharedFile): Promise<void> {
    let stat: { size: number; mtimeMs: number } | null = null;
    try {
      stat = statSync(file.path);
    } catch {
      stat = null;
    }
    if (stat === null) {
      this.options.warn(`${file.path} is gone; no longer sharing ${file.name}`);
      this.options.catalog.unshare(file.fileId, file.name);
      await this.withdraw(file);
      return;
    }
    if (stat.size !== file.size || stat.mtimeMs !== file.mtimeMs) {
      this.options.warn(`${file.path} changed on disk; re-hashing ${file.name}`);
      this.options.catalog.unshare(file.fileId, file.name);
      await this.withdraw(file);
      await this.share(file.path, file.name);
      return;
    }
    await this.announce(file);
  }

  private async announce(file: SharedFile): Promise<void> {
    const member = `${file.fileId}@${this.options.self.address}`;
    const value = (kind: Announcement["kind"]) =>
      JSON.stringify({ kind, name: file.name, size: file.size, fileId: file.fileId, holder: this.options.self.address } satisfies Announcement);
    await this.options.ring.put(nameKey(file.name), member, value("file"), this.announceTtlMs);
    for (const word of wordsOf(file.name).slice(0, MAX_INDEXED_WORDS)) {
      await this.options.ring.put(wordKey(word), member, value("word"), this.announceTtlMs);
    }
  }

  /** A download under way is announced under its name only: search shows complete files, downloads find every source. */
  private async announcePartial(part: PartFile, name: string): Promise<void> {
    await this.putPartial(part.manifest.fileId, name, part.manifest.size);
  }

  private async putPartial(fileId: string, name: string, size: number): Promise<void> {
    const holder = this.options.self.address;
    const value = JSON.stringify({ kind: "file", name, size, fileId, holder, partial: true } satisfies Announcement);
    await this.options.ring.put(nameKey(name), `${fileId}@${holder}`, value, this.announceTtlMs);
  }

  private async withdrawPartial(fileId: string, name: string): Promise<void> {
    await this.options.ring.remove(nameKey(name), `${fileId}@${this.options.self.address}`);
  }

  private async withdraw(file: SharedFile): Promise<void> {
    const member = `${file.fileId}@${this.options.self.address}`;
    await this.options.ring.remove(nameKey(file.name), member);
    for (const word of wordsOf(file.name).slice(0, MAX_INDEXED_WORDS)) await this.options.ring.remove(wordKey(word), member);
  }

  /** A shared file whose bytes are unchanged; a changed one is re-hashed in the background, never served as the old file. */
  private servable(fileId: string): SharedFile | null {
    for (const file of this.options.catalog.byFileId(fileId)) {
      let stat: { size: number; mtimeMs: number } | null = null;
      try {
        stat = statSync(file.path);
      } catch {
        stat = null;
      }
      if (stat && stat.size === file.size && stat.mtimeMs === file.mtimeMs) return file;
      this.refreshInBackground(file);
    }
    return null;
  }

  private refreshInBackground(file: SharedFile): void {
    const key = `${file.fileId}/${file.name}`;
    if (this.refreshing.has(key)) return;
    this.refreshing.add(key);
    this.refresh(file)
      .catch((error) => this.options.warn(`could not refresh ${file.name}: ${(error as Error).message}`))
      .finally(() => this.refreshing.delete(key));
  }

  // ---- helpers ----------------------------------------------------------------------------------

  private async fetchManifest(fileId: string, holders: string[]): Promise<Manifest> {
    const failures: string[] = [];
    for (const address of holders) {
      try {
        if (address === this.options.self.address) return this.server.manifestFor(fileId);
        const body = await this.options.transport.request(address, "GET_MANIFEST", [fileId], { channel: "bulk" });
        return checkManifest(JSON.parse(new TextDecoder().decode(body)), fileId);
      } catch (error) {
        if (!(isP2PError(error) || error instanceof SyntaxError)) throw error;
        failures.push(`${address}: ${(error as Error).message}`);
      }
    }
    throw new P2PError("UNAVAILABLE", `no reachable holder of ${fileId.slice(0, 12)} (${failures.join("; ") || "none announced"})`);
  }

  private async notFound(name: string, idPrefix: string | null): Promise<P2PError> {
    if (idPrefix !== null) return new P2PError("NOT_FOUND", `no file named '${name}' has an id starting with ${idPrefix}`);
    const all = await this.list().catch(() => [] as FileSummary[]);
    const close = all
      .map((file) => ({ file, score: similarity(name.toLowerCase(), file.name.toLowerCase()) }))
      .filter((match) => match.score > 0.4)
      .sort((a, b) => b.score - a.score)
      .slice(0, MAX_SUGGESTIONS)
      .map((match) => match.file.name);
    const hint = close.length > 0 ? `; did you mean ${[...new Set(close)].map((candidate) => `'${candidate}'`).join(", ")}?` : "";
    return new P2PError("NOT_FOUND", `no file named '${name}' in the network${hint}`);
  }

  private async listPage(peer: Peer, limit: RingId, after: string | null): Promise<ListStep> {
    if (peer.address === this.options.self.address) return this.listStep(limit, after);
    const args = after === null ? [limit] : [limit, after];
    const body = await this.options.transport.request(peer.address, "LIST_ALL_FILES", args, { channel: "bulk", timeoutMs: LIST_STEP_TIMEOUT_MS });
    const step = JSON.parse(new TextDecoder().decode(body)) as Partial<ListStep>;
    if (!Array.isArray(step.files) || !Array.isArray(step.children)) {
      throw new P2PError("MALFORMED", `${peer.address} answered LIST_ALL_FILES with something that is not a list step`);
    }
    // A peer of an older version sends no cursor: its one reply is the whole list.
    return { files: step.files, children: step.children, next: typeof step.next === "string" ? step.next : null };
  }

  private localFileEntries(): RecordEntry[] {
    const now = Date.now();
    return this.options.ring.localRecords().filter((entry) => !entry.deleted && (entry.expiresAt === null || entry.expiresAt > now) && kindOf(entry) === "file");
  }

  /** Visits every node once: each is asked for its files and its routing peers in its slice of the ring. */
  private async collectAll(): Promise<RecordEntry[]> {
    const self = this.options.self;
    const files: RecordEntry[] = [];
    const visited = new Set<string>([self.address]);
    let visits = 0;
    const visit = async (peer: Peer, limit: RingId): Promise<void> => {
      let step: ListStep | null = null;
      let after: string | null = null;
      for (let page = 0; page < MAX_LIST_PAGES_PER_NODE; page++) {
        let next: ListStep;
        try {
          next = await this.listPage(peer, limit, after);
        } catch (error) {
          if (!(isP2PError(error) || error instanceof SyntaxError)) throw error;
          break; // its range is still covered by the replicas its neighbours hold
        }
        step ??= next;
        files.push(...next.files.filter((entry) => kindOf(entry) === "file"));
        if (next.next === null) break;
        after = next.next;
      }
      if (step === null) return;
      const children = step.children
        .filter((child) => !visited.has(child.address) && (limit === peer.id ? child.id !== peer.id : inOpenInterval(child.id, peer.id, limit)))
        .sort((a, b) => (ringDistance(peer.id, a.id) < ringDistance(peer.id, b.id) ? -1 : 1));
      const tasks: Promise<void>[] = [];
      for (let index = 0; index < children.length; index++) {
        const child = children[index]!;
        if (visited.has(child.address) || visits >= MAX_LIST_VISITS) continue;
        visited.add(child.address);
        visits++;
        const childLimit = children[index + 1]?.id ?? limit;
        tasks.push(limited(() => visit(child, childLimit)));
      }
      await Promise.all(tasks);
    };
    const limited = concurrencyLimit(LIST_CONCURRENCY);
    await visit(self, self.id);
    return files;
  }
}

/** Groups announcement entries of one kind by file: name, size, id and how many distinct live complete holders. */
export function summarize(entries: readonly RecordEntry[], kind: Announcement["kind"]): FileSummary[] {
  const files = new Map<string, FileSummary & { holderSet: Set<string> }>();
  for (const entry of entries) {
    const announcement = parseAnnouncement(entry);
    if (!announcement || announcement.kind !== kind) continue;
    const key = `${announcement.fileId}/${announcement.name}`;
    let file = files.get(key);
    if (!file) {
      file = { name: announcement.name, size: announcement.size, id: announcement.fileId, holders: 0, holderSet: new Set() };
      files.set(key, file);
    }
    if (announcement.partial !== true) file.holderSet.add(announcement.holder);
    file.holders = file.holderSet.size;
  }
  return [...files.values()]
    .map(({ holderSet: _, ...file }) => file)
    .sort((a, b) => a.name.localeCompare(b.name) || a.id.localeCompare(b.id));
}

/** Every holder of `fileId` the entries name; a holder announced both ways counts as complete. */
function holdersOf(entries: readonly RecordEntry[], fileId: string): Holder[] {
  const holders = new Map<string, Holder>();
  for (const entry of entries) {
    const announcement = parseAnnouncement(entry);
    if (announcement?.fileId !== fileId) continue;
    const partial = announcement.partial === true && holders.get(announcement.holder)?.partial !== false;
    holders.set(announcement.holder, { address: announcement.holder, partial });
  }
  return [...holders.values()];
}

function parseAnnouncement(entry: RecordEntry): Announcement | null {
  try {
    const value = JSON.parse(entry.value) as Announcement;
    if (typeof value.name !== "string" || typeof value.fileId !== "string" || typeof value.holder !== "string" || !Number.isSafeInteger(value.size)) {
      return null;
    }
    return value;
  } catch {
    return null;
  }
}

function kindOf(entry: RecordEntry): string | null {
  return parseAnnouncement(entry)?.kind ?? null;
}

function statOrThrow(path: string): { size: number; mtimeMs: number } {
  try {
    const stat = statSync(path);
    if (!stat.isFile()) throw new P2PError("MALFORMED", `${path} is not a regular file`);
    return stat;
  } catch (error) {
    if (isP2PError(error)) throw error;
    const code = (error as { code?: string }).code;
    if (code === "ENOENT") throw new P2PError("NOT_FOUND", `no such file: ${path}`);
    if (code === "EACCES") throw new P2PError("MALFORMED", `no permission to read ${path}`);
    throw error;
  }
}

function concurrencyLimit(max: number) {
  let active = 0;
  const waiting: Array<() => void> = [];
  return async <T>(task: () => Promise<T>): Promise<T> => {
    if (active >= max) await new Promise<void>((resolve) => waiting.push(resolve));
    active++;
    try {
      return await task();
    } finally {
      active--;
      waiting.shift()?.();
    }
  };
}

/** Similarity in [0, 1] from the edit distance, for "did you mean". */
function similarity(a: string, b: string): number {
  if (b.includes(a) || a.includes(b)) return 0.9;
  const row = Array.from({ length: b.length + 1 }, (_, index) => index);
  for (let i = 1; i <= a.length; i++) {
    let previous = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const current = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, previous + (a[i - 1] === b[j - 1] ? 0 : 1));
      previous = current;
    }
  }
  return 1 - row[b.length]! / Math.max(a.length, b.length, 1);
}
