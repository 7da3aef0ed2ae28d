// A DOWNLOAD of a file that already runs in the background (detached, or resumed by a restart) follows it instead of being refused.

import { P2PError } from "../../protocol/errors";
import type { DownloadReport } from "../../wire/control";

/** A file download running now, and who follows its progress besides its own client. */
export type Running<Progress> = { out: string; background: boolean; listeners: Set<(progress: Progress) => void>; done: Promise<DownloadReport> };

/** Resolves as `running` does, passing on its progress; this client leaving ends only the following, not the download. */
export function follow<Progress>(running: Running<Progress>, options: { onProgress?: (progress: Progress) => void; signal?: AbortSignal }): Promise<DownloadReport> {
  return new Promise<DownloadReport>((resolve, reject) => {
    const listener = (progress: Progress) => options.onProgress?.(progress);
    const onAbort = () => reject(new P2PError("CLOSED", "stopped following the download; it goes on in the node (see: p2p client transfers)"));
    running.listeners.add(listener);
    options.signal?.addEventListener("abort", onAbort, { once: true });
    running.done.then(resolve, reject).finally(() => {
      running.listeners.delete(listener);
      options.signal?.removeEventListener("abort", onAbort);
    });
  });
}
