// The page's actions: control ops (the very handlers the Unix socket serves) called in process, from a whitelist.

import { P2PError, isP2PError } from "../protocol/errors";
import type { OpTable, Request as OpRequest } from "../protocol/server";
import { replyBody } from "../wire/op";
import { parseNameRef } from "../node/files/names";
import { looksLikeLink, parseLink } from "../model/link";
import { mkdirSync } from "node:fs";
import { basename, join } from "node:path";

/**
 * The ops the page may call, and nothing else (LEAVE, PUT, GET stay on the socket). A new control op (PAUSE,
 * RESUME, LINK) appears on the page by adding its name here and a button in page/.
 */
export const PAGE_OPS: ReadonlySet<string> = new Set(["STATUS", "LIST", "SEARCH", "DOWNLOAD", "TRANSFERS", "PAUSE", "RESUME", "CANCEL", "CLEAR", "SHARED", "UNSHARE", "LINK"]);
/** Ops that run long (a download): the page gets an answer at once and watches TRANSFERS. */
export const BACKGROUND_OPS: ReadonlySet<string> = new Set(["DOWNLOAD"]);

export interface OpCaller {
  /** Runs one op with wire arguments; resolves to the reply body as text (JSON for these ops). */
  call(op: string, args: readonly string[]): Promise<string>;
  /** Shares a file the page uploaded (UPLOAD, kept off the whitelist: the page names no path of its own). */
  share(path: string): Promise<string>;
  /** Aborts the background ops still running (the node is stopping). */
  close(): void;
}

/** How long a background op may take to fail before the page is told it started: a wrong name is an answer, not a silence. */
const EARLY_FAILURE_MS = 1_500;

/** `downloads`: the folder a page's download is written to (<dataDir>/downloads), since the page names no path. */
export function opCaller(ops: OpTable, downloads: string, warn: (message: string) => void): OpCaller {
  const stopping = new AbortController();
  return {
    call: (op, args) => run(PAGE_OPS.has(op) ? op : "", op === "DOWNLOAD" ? downloadArgs(args, downloads) : args),
    share: (path) => run("UPLOAD", [path]),
    close: () => stopping.abort(),
  };

  async function run(op: string, args: readonly string[]): Promise<string> {
      const spec = ops[op];
      if (!spec) throw new P2PError("MALFORMED", `the page may not run that op`);
      if (args.length < spec.minArgs || args.length > spec.maxArgs) throw new P2PError("MALFORMED", `usage: ${spec.usage}`);
      const request: OpRequest = { op, args: [...args], body: new Uint8Array(0), remoteAddress: "web", remotePort: 0, connectionId: "web", progress: () => {}, signal: stopping.signal };
      const running = Promise.resolve().then(() => spec.handle(request));
      if (BACKGROUND_OPS.has(op)) {
        let timer: ReturnType<typeof setTimeout> | undefined;
        const started = new Promise<string>((resolve) => (timer = setTimeout(() => resolve(JSON.stringify({ started: op })), EARLY_FAILURE_MS)));
        running.then(
          () => clearTimeout(timer),
          (error) => {
            clearTimeout(timer);
            warn(`web ${op} failed: ${isP2PError(error) ? error.message : String(error)}`);
          },
        );
        return Promise.race([running.then((reply) => new TextDecoder().decode(replyBody(reply))), started]);
      }
      return new TextDecoder().decode(replyBody(await running));
  }
}

/**
 * The page sends only the name, name@id or a pasted link (the DOWNLOAD the CLI sends for `download <link>`); the
 * file goes to <dataDir>/downloads/<name>. A malformed link is refused here, at once, with parseLink's one message.
 */
function downloadArgs(args: readonly string[], downloads: string): string[] {
  if (args.length !== 1 || typeof args[0] !== "string") throw new P2PError("MALFORMED", "usage: DOWNLOAD <name[@id] or link>");
  const name = looksLikeLink(args[0].trim()) ? parseLink(args[0]).name : parseNameRef(args[0]).name;
  mkdirSync(downloads, { recursive: true, mode: 0o700 });
  return [args[0].trim(), join(downloads, basename(name))];
}
