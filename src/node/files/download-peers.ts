// The peers of one file as a download asks them: other holders over the node's file links, this node itself in process.

import type { FileLinks } from "./ports";
import type { FilePeers, Holder } from "./swarm/file-peers";
import type { HaveReport, Bitfield } from "../../model/bitfield";

/** What this node answers for itself, without a round trip. */
export interface LocalHolder {
  chunk(fileId: string, index: number): Promise<Uint8Array>;
  chosenChunk(fileId: string, wanted: Bitfield): Promise<{ index: number; bytes: Uint8Array }>;
  have(fileId: string, knownVersion: number | null): Promise<HaveReport>;
}

export function downloadPeers(options: {
  fileId: string;
  chunkCount: number;
  selfAddress: string;
  links: FileLinks;
  holders: () => Promise<Holder[]>;
  local: LocalHolder;
  /** A stream the caller owns and closes (a folder's files share one); by default the download gets its own. */
  stream?: string;
}): FilePeers {
  const { fileId, chunkCount, selfAddress, links, local } = options;
  // This download's own connections: closing them when it ends drops whatever its holders still had queued for it.
  const stream = options.stream ?? links.newStream();
  return {
    holders: options.holders,
    async chunk(address, index) {
      if (address === selfAddress) return local.chunk(fileId, index);
      return links.chunk(address, fileId, index, stream);
    },
    async chosenChunk(address, wanted) {
      if (address === selfAddress) return local.chosenChunk(fileId, wanted);
      return links.chosenChunk(address, fileId, wanted, stream);
    },
    release: (bytes) => links.release(bytes),
    async have(address, knownVersion) {
      if (address === selfAddress) return local.have(fileId, knownVersion);
      return links.have(address, fileId, knownVersion, chunkCount, stream);
    },
    close: () => {
      if (options.stream === undefined) links.closeStream(stream);
    },
  };
}
