// The NAT lab's checks: every node shares a file, every other node downloads it; each ordered pair is one cell of the matrix.

import { createHash, randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { connect } from "../protocol/client";
import type { TransferEntry, TransfersReport } from "../wire/control";
import { hasExited } from "./processes";
import { type ClientResult, type LabNode, type LabSettings, runClient } from "./natlab-nodes";

/** How a download found its way; "failed" when it did not complete with the right SHA-256. */
export type PathMode = "direct" | "reversed" | "punched" | "relayed" | "failed";
export const PATH_MODES: readonly PathMode[] = ["direct", "reversed", "punched", "relayed", "failed"];

export interface PairResult {
  from: string;
  to: string;
  mode: PathMode;
  /** Milliseconds from the download's start until the downloader reported its first bytes; null if never seen. */
  firstByteMs: number | null;
  totalMs: number;
  /** Bytes per second over the whole download; null when it failed. */
  bytesPerSecond: number | null;
  /** Why it failed (empty when it did not). */
  reason: string;
}

export interface SharedFile {
  name: string;
  sha256: string;
  bytes: number;
}

/** Between two TRANSFERS looks while a download runs: the resolution of the time to first byte. */
const PROGRESS_POLL_MS = 25;
/** One upload may take this long (hashing 16 MiB included). */
const UPLOAD_TIMEOUT_MS = 60_000;
/** A failed download is cancelled so its retries do not load the next pair's measurement. */
const CANCEL_TIMEOUT_MS = 10_000;

/** Writes a random file of `bytes` for each node and shares it from that node; returns the files by node name (a node whose upload failed is missing, with why in `problems`). */
export async function shareFiles(settings: LabSettings, nodes: LabNode[], bytes: number): Promise<{ files: Map<string, SharedFile>; problems: Map<string, string> }> {
  const files = new Map<string, SharedFile>();
  const problems = new Map<string, string>();
  for (const node of nodes.filter((candidate) => !hasExited(candidate.proc))) {
    const dir = join(settings.home, "files", node.host.name);
    mkdirSync(dir, { recursive: true });
    const name = `from-${node.host.name}.bin`;
    const data = randomBytes(bytes);
    writeFileSync(join(dir, name), data);
    const result = await runClient(settings, node, ["upload", join(dir, name)], UPLOAD_TIMEOUT_MS);
    if (result.ok) files.set(node.host.name, { name, sha256: sha256(data), bytes });
    else problems.set(node.host.name, `upload failed: ${result.error}`);
  }
  return { files, problems };
}

/** Downloads `file` (shared by `from`) on `to`, without sharing the copy on; measures and checks it. */
export async function measurePair(settings: LabSettings, from: LabNode, to: LabNode, file: SharedFile, timeoutMs: number): Promise<PairResult> {
  const out = join(settings.home, "downloads", to.host.name, file.name);
  mkdirSync(join(settings.home, "downloads", to.host.name), { recursive: true });
  const started = performance.now();
  let firstByteMs: number | null = null;
  let entry: TransferEntry | null = null;
  let done = false;
  const download = runClient(settings, to, ["download", file.name, "--out", out, "--no-share"], timeoutMs).finally(() => {
    done = true;
  });
  for (let round = 0; round < Math.ceil(timeoutMs / PROGRESS_POLL_MS) + 1 && !done; round++) {
    entry = (await transferOf(to, file.name)) ?? entry;
    if (firstByteMs === null && entry !== null && entry.bytes > 0) firstByteMs = performance.now() - started;
    if (firstByteMs !== null) break;
    await Promise.race([download, Bun.sleep(PROGRESS_POLL_MS)]);
  }
  const result = await download;
  const totalMs = performance.now() - started;
  entry = (await transferOf(to, file.name)) ?? entry;
  const failure = failureOf(result, out, file, entry);
  if (failure !== null) {
    if (entry?.state === "downloading" || !result.ok) await runClient(settings, to, ["cancel", file.name], CANCEL_TIMEOUT_MS);
    return { from: from.host.name, to: to.host.name, mode: "failed", firstByteMs: null, totalMs, bytesPerSecond: null, reason: failure };
  }
  return { from: from.host.name, to: to.host.name, mode: modeOf(entry), firstByteMs: firstByteMs ?? totalMs, totalMs, bytesPerSecond: file.bytes / (totalMs / 1000), reason: "" };
}

/** A pair that could not even be tried: one side is not running or shares nothing. */
export function untried(from: string, to: string, reason: string): PairResult {
  return { from, to, mode: "failed", firstByteMs: null, totalMs: 0, bytesPerSecond: null, reason };
}

/**
 * The path a finished download took, as the node reports it: a `mode` field on its TRANSFERS entry
 * (none today: every download is a direct TCP connection from the downloader to each holder).
 */
export function modeOf(entry: TransferEntry | null): PathMode {
  const reported = (entry as { mode?: unknown } | null)?.mode;
  return typeof reported === "string" && (PATH_MODES as readonly string[]).includes(reported) ? (reported as PathMode) : "direct";
}

/** Why a finished download does not count (null when it does): the client failed, wrote nothing, or wrote other bytes. */
export function failureOf(result: ClientResult, out: string, file: SharedFile, entry: TransferEntry | null): string | null {
  if (!result.ok) return result.error || entry?.error || "the download failed";
  if (!existsSync(out)) return `the client succeeded but wrote no ${out}`;
  const digest = sha256(readFileSync(out));
  return digest === file.sha256 ? null : `SHA-256 mismatch: got ${digest.slice(0, 12)}, shared ${file.sha256.slice(0, 12)}`;
}

/** The node's TRANSFERS entry for a file name (the newest), or null when it has none or does not answer. */
export async function transferOf(node: LabNode, name: string): Promise<TransferEntry | null> {
  try {
    const client = await connect({ unix: node.socketPath });
    try {
      const report = JSON.parse(new TextDecoder().decode((await client.request("TRANSFERS")).body)) as TransfersReport;
      return report.downloads.find((download) => download.name === name) ?? null;
    } finally {
      client.close();
    }
  } catch {
    // A node too busy to answer one look: the next look (or the client's own result) decides.
    return null;
  }
}

function sha256(data: Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}
