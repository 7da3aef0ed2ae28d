// The control link (p2p client to its node over node.sock): reply shapes both sides share. The ops themselves are still
// defined in src/node/control-ops.ts and src/node/files/file-ops.ts (see docs/ARCHITECTURE.md, "Where each link's ops live").

/** The DOWNLOAD reply: what was fetched, from whom, and how long it took. */
export interface DownloadReport {
  name: string;
  size: number;
  id: string;
  path: string;
  sources: string[];
  badSources: string[];
  resumedChunks: number;
  milliseconds: number;
}
