// What files/ needs from the rest of the node, as small interfaces: the ring's records and listing, the other nodes' file ops, and storage.

import type { RingId } from "../../model/id";
import type { RecordCursor } from "../ring/records";
import type { RecordEntry } from "../../model/record";
import type { Peer } from "../../model/peer";
import type { ListStep } from "../../wire/files";
import type { DamagedEntry, SharedFile, SharedFolder } from "./catalog";
import type { FolderManifest } from "../../model/folder";
import type { Manifest } from "../../model/manifest";
import type { HaveReport, Bitfield } from "../../model/bitfield";

/** The ring's records, as announcing, searching and finding holders use them (`ChordNode` is one). */
export interface FileRecords {
  get(key: RingId): Promise<RecordEntry[]>;
  put(key: RingId, member: string, value: string, ttlMs?: number): Promise<unknown>;
  remove(key: RingId, member: string): Promise<unknown>;
}

/** This node's own part of the ring, as one step of the LIST_ALL_FILES broadcast reads it (`ChordNode` is one). */
export interface LocalListing {
  routingPeers(): Peer[];
  localRecordsAfter(after: RecordCursor | null, limit: number): RecordEntry[];
  holdsKey(key: RingId): boolean;
}

export type FileRing = FileRecords & LocalListing;

/**
 * The file ops of other nodes (src/wire/files.ts), one method each. `stream` names a set of
 * connections of a download's own, closed together when it ends (`tcpFileLinks` over TCP).
 */
export interface FileLinks {
  manifest(address: string, fileId: string): Promise<Manifest>;
  folder(address: string, folderId: string): Promise<FolderManifest>;
  listPage(address: string, limit: RingId, after: string | null): Promise<ListStep>;
  chunk(address: string, fileId: string, index: number, stream: string): Promise<Uint8Array>;
  chosenChunk(address: string, fileId: string, wanted: Bitfield, stream: string): Promise<{ index: number; bytes: Uint8Array }>;
  have(address: string, fileId: string, knownVersion: number | null, chunkCount: number, stream: string): Promise<HaveReport>;
  /** How the link to a holder runs (TRANSFERS' mode): straight, dialled back by an edge holder, or through its relay. */
  pathOf?(address: string): "direct" | "reversed" | "punched" | "relayed";
  /** A chunk's bytes are written or dropped: its buffer may be reused. */
  release(bytes: Uint8Array): void;
  /** A name for a new set of download connections. */
  newStream(): string;
  closeStream(stream: string): void;
}

/** What this node shares, folders included, and the downloads it left unfinished (`CatalogStore` is one; `PartFile` keeps its own records there). */
export interface FileCatalog {
  share(file: SharedFile): void;
  unshare(fileId: string, name: string): void;
  byFileId(fileId: string): SharedFile[];
  byPath(path: string): SharedFile[];
  allShared(): SharedFile[];
  shareFolder(folder: SharedFolder): void;
  unshareFolder(folderId: string, name: string): void;
  folder(folderId: string): SharedFolder | null;
  allFolders(): SharedFolder[];
  downloadsUnder(folder: string): string[];
  finishDownload(fileId: string): void;
  dropDamaged(): DamagedEntry[];
}

/** A download's file under way, as serving its verified chunks sees it. */
export interface ServedPart {
  readonly manifest: Manifest;
  readonly verified: Bitfield;
  read(index: number): Promise<Uint8Array>;
}

/** A download's file under way, as the download writes it (`PartFile` is one). */
export interface DownloadPart extends ServedPart {
  readonly resumedChunks: number;
  readonly corruptChunks: number;
  write(index: number, bytes: Uint8Array): Promise<void>;
  /** Every chunk is there: made durable and renamed to `outPath`. */
  finish(outPath: string): Promise<void>;
  /** The download failed: its file and record go if it holds no verified chunk. */
  discardIfEmpty(): Promise<void>;
  close(): Promise<void>;
}

/** Opens (or resumes) the part file of a download (`partFilesIn(catalog)` on disk). */
export interface PartFiles {
  open(options: { outPath: string; name: string; manifest: Manifest }): Promise<DownloadPart>;
}
