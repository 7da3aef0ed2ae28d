// --download-limit: a download's chunk requests wait for the node's shared download bucket before they are sent.

import type { RateLimiter } from "./rate-limiter";
import type { FilePeers } from "./swarm/file-peers";

/**
 * `peers` with every chunk request paced by `limiter`. The bytes are taken before the request goes out
 * (a whole chunk's worth; the last chunk may be shorter), so the holder never waits on us with a chunk
 * half sent and the request's timeout runs only once it is sent.
 */
export function limitedPeers(peers: FilePeers, limiter: RateLimiter, chunkSize: number, signal: AbortSignal): FilePeers {
  return {
    ...peers,
    async chunk(address, index) {
      await limiter.take(chunkSize, signal);
      return peers.chunk(address, index);
    },
    async chosenChunk(address, wanted) {
      await limiter.take(chunkSize, signal);
      return peers.chosenChunk(address, wanted);
    },
  };
}
