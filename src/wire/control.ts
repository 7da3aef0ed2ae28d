// The control link (p2p client to its node over node.sock): every op's arguments and reply in one place, for the node's op tables and the CLI.

import { P2PError } from "../protocol/errors";
import type { ChordStatus, FileSummary } from "../model/reports";
import type { RingId } from "../model/id";
import type { RecordEntry } from "../model/record";
import type { Peer } from "../model/peer";
import { encodeJson } from "./codec";
import { defineOp, NO_ARGS, PING, replyLines } from "./op";
import { parseRecordEntries } from "./records";
import { type Shape, PEER_SHAPE, checkShape, nullable } from "./shape";

/** Longest record value accepted from the local client. */
export const MAX_VALUE_BYTES = 16 * 1024;
/** Longest record member accepted from the local client (peers refuse longer ones in PUT_RECORDS). */
export const MAX_MEMBER_LENGTH = 1024;

/** The STATUS reply. */
export interface NodeStatus extends ChordStatus {
  dns: string;
  dataDir: string;
  uptimeSeconds: number;
  /** Started with --key: every link to peers and the DNS is a private-network link. */
  privateNetwork?: boolean;
  /** This node's clock minus the median of its peers' (`PING time`), positive when ahead; null until a peer answered. */
  clockSkewMs?: number | null;
  /** How many peers' clocks that median is over. */
  clockPeers?: number;
  /** How far apart clocks may be before records are refused (MAX_CLOCK_SKEW_MS). */
  clockToleranceMs?: number;
  /** How the world sees this node: `reachable at <addr>`, `unreachable from <observer>: <reason>`, or not checked yet. */
  reachability?: string;
}

/** The DOWNLOAD reply: what was fetched, from whom, and how long it took. */
export interface DownloadReport {
  name: string;
  size: number;
  id: string;
  path: string;
  sources: string[];
  badSources: string[];
  resumedChunks: number;
  /** Chunks an earlier attempt had verified that no longer matched on disk, fetched again (absent: none). */
  corruptChunks?: number;
  milliseconds: number;
  /** A folder: `path` is the folder written, `files` how many files it holds. */
  folder?: boolean;
  files?: number;
}

/** The UPLOAD reply: the file as it is now shared. */
export type SharedReport = { name: string; size: number; id: string; folder?: boolean; files?: number };

/** A 202 progress event of UPLOAD ("hashing") or DOWNLOAD ("downloading"), one JSON object a line. */
export type ProgressEvent = { phase: string; bytes?: number; total?: number; [field: string]: unknown };

/** One download in TRANSFERS: waiting ("queued" for a turn under --max-active, "paused"), under way ("downloading") or ended ("done", "failed", "cancelled" by CANCEL, "stopped" when its client went away: resumable). */
export interface TransferEntry {
  id: string;
  name: string;
  path: string;
  size: number;
  bytes: number;
  /** Bytes per second over the last stretch of this attempt (not counting resumed bytes). */
  rate: number;
  /** Seconds left at that rate, or null when unknown. */
  etaSeconds: number | null;
  sources: string[];
  /** How its chunks came: "relayed" once any came from an edge node through its relay (a source `ip:port/<edge id>`), else "direct" ("reversed" and "punched" are the direct paths of issue 18 item 4). */
  mode?: "direct" | "reversed" | "punched" | "relayed";
  state: "queued" | "downloading" | "paused" | "done" | "failed" | "cancelled" | "stopped";
  startedAt: number;
  endedAt?: number;
  error?: string;
}

/** The TRANSFERS reply. */
export interface TransfersReport {
  downloads: TransferEntry[];
  /** Files whose chunks peers are fetching from this node right now. */
  serving: { id: string; name: string; requests: number; servedBytes: number }[];
}

/** One file this node shares, in SHARED and UNSHARE. */
export interface SharedEntry {
  name: string;
  id: string;
  size: number;
  path: string;
  /** When it was first shared (ms since the epoch), or null if not recorded. */
  since: number | null;
  /** Bytes of it served to peers since this node started. */
  servedBytes: number;
  /** A folder shared as one item (`path` is the folder, `servedBytes` summed over its files). */
  folder?: boolean;
}

export type PutArgs = { key: string; member: string; value: string; ttlMs?: number };
export type DownloadArgs = { ref: string; out?: string; force: boolean; noShare?: boolean };

// What the client reads of each JSON reply, checked before it renders anything (src/wire/shape.ts).
const STATUS_SHAPE: Shape = {
  id: "string",
  address: "string",
  predecessor: nullable(PEER_SHAPE),
  successors: [PEER_SHAPE],
  fingers: [PEER_SHAPE],
  records: { primary: "number", replica: "number" },
  dns: "string",
  dataDir: "string",
  uptimeSeconds: "number",
  privateNetwork: "boolean?",
  clockSkewMs: "number|null?",
  clockPeers: "number?",
  clockToleranceMs: "number?",
  reachability: "string?",
};
const FILE_SUMMARY_SHAPE: Shape = { name: "string", size: "number", id: "string", holders: "number", partial: "number?", partialHolders: "string[]?", folder: "boolean?", files: "number?" };
const SHARED_REPORT_SHAPE: Shape = { name: "string", size: "number", id: "string", folder: "boolean?", files: "number?" };
const DOWNLOAD_REPORT_SHAPE: Shape = {
  name: "string",
  size: "number",
  id: "string",
  path: "string",
  sources: "string[]",
  badSources: "string[]",
  resumedChunks: "number",
  corruptChunks: "number?",
  milliseconds: "number",
  folder: "boolean?",
  files: "number?",
};
export const TRANSFER_SHAPE: Shape = {
  id: "string",
  name: "string",
  path: "string",
  size: "number",
  bytes: "number",
  rate: "number",
  etaSeconds: "number|null",
  sources: "string[]",
  state: "string",
  startedAt: "number",
  endedAt: "number?",
  error: "string?",
};
const TRANSFERS_SHAPE: Shape = { downloads: [TRANSFER_SHAPE], serving: [{ id: "string", name: "string", requests: "number", servedBytes: "number" }] };
const SHARED_ENTRY_SHAPE: Shape = { name: "string", id: "string", size: "number", path: "string", since: "number|null", servedBytes: "number", folder: "boolean?" };

export const CONTROL = {
  PING,

  STATUS: defineOp<void, NodeStatus>({ name: "STATUS", usage: "STATUS", ...NO_ARGS, ...jsonReply<NodeStatus>("STATUS", STATUS_SHAPE) }),

  /** The node leaves the ring (records handed over) and exits once it has answered. */
  LEAVE: defineOp<void, string>({
    name: "LEAVE",
    usage: "LEAVE",
    ...NO_ARGS,
    encodeReply: (text) => ({ lines: [text] }),
    decodeReply: (body) => replyLines(body).join("\n"),
  }),

  /** `key` is 40 hex digits used as it is, or any text, hashed onto the ring by the node. */
  LOOKUP: defineOp<string, { key: RingId; successor: Peer; hops: number }>({
    name: "LOOKUP",
    usage: "LOOKUP <key or text>",
    minArgs: 1,
    maxArgs: 1,
    encodeArgs: (key) => ({ args: [key] }),
    decodeArgs: (args) => args[0]!,
    ...jsonReply<{ key: RingId; successor: Peer; hops: number }>("LOOKUP", { key: "string", successor: PEER_SHAPE, hops: "number" }),
  }),

  PUT: defineOp<PutArgs, { primary: Peer }>({
    name: "PUT",
    usage: "PUT <key or text> <member> <value> [<ttl-ms>]",
    minArgs: 3,
    maxArgs: 4,
    encodeArgs: ({ key, member, value, ttlMs }) => ({ args: ttlMs === undefined ? [key, member, value] : [key, member, value, String(ttlMs)] }),
    decodeArgs: (args) => {
      const [key, member, value, ttl] = args as [string, string, string, string | undefined];
      if (member.length > MAX_MEMBER_LENGTH) throw new P2PError("MALFORMED", `member is over ${MAX_MEMBER_LENGTH} characters`);
      if (value.length > MAX_VALUE_BYTES) throw new P2PError("MALFORMED", `value is over ${MAX_VALUE_BYTES} bytes`);
      const ttlMs = ttl === undefined ? undefined : Number(ttl);
      if (ttlMs !== undefined && !(Number.isSafeInteger(ttlMs) && ttlMs > 0)) {
        throw P2PError.invalid("ttl", String(ttl), "a whole number of milliseconds, more than 0");
      }
      return ttlMs === undefined ? { key, member, value } : { key, member, value, ttlMs };
    },
    ...jsonReply<{ primary: Peer }>("PUT", { primary: PEER_SHAPE }),
  }),

  GET: defineOp<string, RecordEntry[]>({
    name: "GET",
    usage: "GET <key or text>",
    minArgs: 1,
    maxArgs: 1,
    encodeArgs: (key) => ({ args: [key] }),
    decodeArgs: (args) => args[0]!,
    encodeReply: (entries: RecordEntry[]) => ({ body: encodeJson(entries) }),
    // The entries as the ring link checks them: every field of every entry.
    decodeReply: (body: Uint8Array) => parseRecordEntries(decodeReplyJson(body, "GET"), Number.MAX_SAFE_INTEGER),
  }),

  /** Share a file in place; progress events while it is hashed. */
  UPLOAD: defineOp<{ path: string; name?: string }, SharedReport>({
    name: "UPLOAD",
    usage: "UPLOAD <absolute path> [<name>]",
    minArgs: 1,
    maxArgs: 2,
    encodeArgs: ({ path, name }) => ({ args: name ? [path, name] : [path] }),
    decodeArgs: (args) => (args[1] === undefined ? { path: args[0]! } : { path: args[0]!, name: args[1] }),
    ...jsonReply<SharedReport>("UPLOAD", SHARED_REPORT_SHAPE),
  }),

  LIST: defineOp<void, FileSummary[]>({ name: "LIST", usage: "LIST", ...NO_ARGS, ...jsonReply<FileSummary[]>("LIST", [FILE_SUMMARY_SHAPE]) }),

  SEARCH: defineOp<string, FileSummary[]>({
    name: "SEARCH",
    usage: "SEARCH <term>",
    minArgs: 1,
    maxArgs: 1,
    encodeArgs: (term) => ({ args: [term] }),
    decodeArgs: (args) => args[0]!,
    ...jsonReply<FileSummary[]>("SEARCH", [FILE_SUMMARY_SHAPE]),
  }),

  /** Download from every holder at once; progress events while it runs. An empty out path means the default. */
  DOWNLOAD: defineOp<DownloadArgs, DownloadReport>({
    name: "DOWNLOAD",
    usage: "DOWNLOAD <name[@id]> [<out path>] [force] [noshare]",
    minArgs: 1,
    maxArgs: 4,
    encodeArgs: ({ ref, out, force, noShare }) => ({ args: [ref, out ?? "", ...(force ? ["force"] : []), ...(noShare ? ["noshare"] : [])] }),
    decodeArgs: (args) => {
      const flags = args.slice(2);
      const unknown = flags.find((flag) => flag !== "force" && flag !== "noshare");
      if (unknown !== undefined) throw new P2PError("MALFORMED", `unknown DOWNLOAD flag '${unknown.slice(0, 40)}': expected force or noshare`);
      const out = args[1] && args[1].length > 0 ? args[1] : undefined;
      const decoded: DownloadArgs = { ref: args[0]!, force: flags.includes("force") };
      if (out !== undefined) decoded.out = out;
      if (flags.includes("noshare")) decoded.noShare = true;
      return decoded;
    },
    ...jsonReply<DownloadReport>("DOWNLOAD", DOWNLOAD_REPORT_SHAPE),
  }),

  /** Downloads under way and recent ones, and what this node serves right now. */
  TRANSFERS: defineOp<void, TransfersReport>({ name: "TRANSFERS", usage: "TRANSFERS", ...NO_ARGS, ...jsonReply<TransfersReport>("TRANSFERS", TRANSFERS_SHAPE) }),

  /** Stops a download under way (by name or id prefix); its .part and verified chunks stay unless `discard`. */
  CANCEL: defineOp<{ ref: string; discard: boolean }, TransferEntry>({
    name: "CANCEL",
    usage: "CANCEL <name or id> [discard]",
    minArgs: 1,
    maxArgs: 2,
    encodeArgs: ({ ref, discard }) => ({ args: discard ? [ref, "discard"] : [ref] }),
    decodeArgs: (args) => {
      if (args[1] !== undefined && args[1] !== "discard") throw new P2PError("MALFORMED", `unknown CANCEL flag '${args[1].slice(0, 40)}': expected discard`);
      return { ref: args[0]!, discard: args[1] === "discard" };
    },
    ...jsonReply<TransferEntry>("CANCEL", TRANSFER_SHAPE),
  }),

  /** What this node shares whole. */
  SHARED: defineOp<void, SharedEntry[]>({ name: "SHARED", usage: "SHARED", ...NO_ARGS, ...jsonReply<SharedEntry[]>("SHARED", [SHARED_ENTRY_SHAPE]) }),

  /** Stops sharing a file (by name or id prefix) and withdraws its announcement at once. */
  UNSHARE: defineOp<string, SharedEntry[]>({
    name: "UNSHARE",
    usage: "UNSHARE <name or id>",
    minArgs: 1,
    maxArgs: 1,
    encodeArgs: (ref) => ({ args: [ref] }),
    decodeArgs: (args) => args[0]!,
    ...jsonReply<SharedEntry[]>("UNSHARE", [SHARED_ENTRY_SHAPE]),
  }),
};

/**
 * A JSON reply from the node this client trusts (its own, over a 0600 socket). It is still checked for the
 * fields the client reads: a node started from an older or newer binary is then one clear line, not a crash.
 */
export function jsonReply<T>(op: string, shape: Shape | [Shape]) {
  return {
    encodeReply: (value: T) => ({ body: encodeJson(value) }),
    decodeReply: (body: Uint8Array): T => checkShape<T>(decodeReplyJson(body, op), shape, `the node's ${op} reply`),
  };
}

function decodeReplyJson(body: Uint8Array, op: string): unknown {
  try {
    return JSON.parse(new TextDecoder().decode(body));
  } catch {
    throw new P2PError("ERROR", `the node's ${op} reply is not JSON; the node may run another version of p2p: restart it with this binary`);
  }
}
