// FilePeers over TCP: GET_CHUNK, GET_ANY_CHUNK and GET_HAVE (src/wire/files.ts) through the node's transport; this node itself answered in process.

import { P2PError } from "../../protocol/errors";
import type { TcpTransport } from "../tcp-transport";
import type { FilePeers, Holder } from "./swarm/file-peers";
import type { HaveReport, Bitfield } from "../../model/bitfield";
import { FILES, haveFromWire } from "../../wire/files";

/**
 * How long a holder may stay silent while one of our chunks is due. A holder keeps a waiting
 * request alive with interim replies, so silence this long means it is gone, not slow.
 */
export const CHUNK_TIMEOUT_MS = 30_000;
/** How long a partial holder may hold a GET_HAVE open waiting for news (the caller waits a little longer). */
export const HAVE_WAIT_MS = 2_000;

/** What this node answers for itself, without a round trip. */
export interface LocalHolder {
  chunk(fileId: string, index: number): Promise<Uint8Array>;
  chosenChunk(fileId: string, wanted: Bitfield): Promise<{ index: number; bytes: Uint8Array }>;
  have(fileId: string, knownVersion: number | null): Promise<HaveReport>;
}

export function tcpFilePeers(options: {
  fileId: string;
  chunkCount: number;
  selfAddress: string;
  transport: TcpTransport;
  holders: () => Promise<Holder[]>;
  local: LocalHolder;
  /** A stream the caller owns and closes (a folder's files share one); by default the download gets its own. */
  stream?: string;
}): FilePeers {
  const { fileId, chunkCount, selfAddress, transport, local } = options;
  // This download's own connections: closing them when it ends drops whatever its holders still had queued for it.
  const stream = options.stream ?? newDownloadStream();
  return {
    holders: options.holders,
    async chunk(address, index) {
      if (address === selfAddress) return local.chunk(fileId, index);
      return transport.send(address, FILES.GET_CHUNK, { fileId, index }, { timeoutMs: CHUNK_TIMEOUT_MS, channel: "bulk", stream });
    },
    async chosenChunk(address, wanted) {
      if (address === selfAddress) return local.chosenChunk(fileId, wanted);
      return transport.send(address, FILES.GET_ANY_CHUNK, { fileId, wanted: wanted.bytes }, { timeoutMs: CHUNK_TIMEOUT_MS, channel: "bulk", stream });
    },
    release: (bytes) => transport.releaseBody(bytes),
    async have(address, knownVersion) {
      if (address === selfAddress) return local.have(fileId, knownVersion);
      const wire = await transport.send(address, FILES.GET_HAVE, { fileId, knownVersion }, { timeoutMs: HAVE_WAIT_MS + 5_000, channel: "have", stream });
      const report = haveFromWire(wire, chunkCount);
      if (report === null) throw new P2PError("MALFORMED", `${address} answered GET_HAVE with a bitfield for a different number of chunks`);
      return report;
    },
    close: () => {
      if (options.stream === undefined) transport.closeStream(stream);
    },
  };
}

/** A name for a new set of download connections (see TcpTransport.closeStream). */
export function newDownloadStream(): string {
  return `download-${++downloadCount}`;
}
let downloadCount = 0;
