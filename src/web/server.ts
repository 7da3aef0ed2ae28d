// The node's web page over HTTP: every request passes the guard (auth.ts), actions go to the control ops (actions.ts), updates stream (events.ts).

import type { Server } from "bun";
import { existsSync, unlinkSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { formatAddress } from "../protocol/address";
import { isP2PError, P2PError } from "../protocol/errors";
import type { OpTable } from "../protocol/server";
import { opCaller } from "./actions";
import { loadToken, refusal, tokenCookie } from "./auth";
import { PageEvents } from "./events";
import { WEB_ADDRESS_FILE, WEB_TOKEN_FILE } from "./files";
import { isLoopback } from "../protocol/ip";
import { type Uploads, pageUploads } from "./uploads";
import page from "./page/index.html";

/** Largest file the page may upload in one request. */
export const MAX_UPLOAD_BYTES = 2 * 1024 ** 3;
/** Longest JSON body of an action. */
const MAX_ACTION_BYTES = 16 * 1024;
/** Seconds a connection may stay silent before it is closed. */
const IDLE_TIMEOUT_SECONDS = 30;
/** Most arguments an action carries. */
const MAX_ACTION_ARGS = 4;

export interface WebOptions {
  hostname: string;
  port: number;
  dataDir: string;
  ops: OpTable;
  /** --web-token-file; default <dataDir>/web-token. Required off loopback. */
  tokenFile?: string;
  warn: (message: string) => void;
}

export interface WebServer {
  /** `http://ip:port/` without the token. */
  readonly url: string;
  stop(): Promise<void>;
}


/** Off loopback the page needs a token file the user chose (and so knows is there): refused with one line otherwise. */
export function checkWebListen({ hostname, tokenFile }: { hostname: string; tokenFile?: string }): void {
  if (!isLoopback(hostname) && !tokenFile) {
    throw new P2PError("MALFORMED", `refusing to serve the web page on ${hostname}, which is not loopback, without --web-token-file`);
  }
}

export async function startWebServer(options: WebOptions): Promise<WebServer> {
  const { hostname, dataDir, warn } = options;
  checkWebListen(options);
  const tokenFile = resolve(options.tokenFile ?? join(dataDir, WEB_TOKEN_FILE));
  const token = loadToken(tokenFile);
  const pageSocket = join(dataDir, "web.sock");
  if (existsSync(pageSocket)) unlinkSync(pageSocket);
  // The bundled page (HTML, script, styles inside the binary) is served on a Unix socket that only this process uses,
  // so the public server can put the guard in front of every file of it.
  const pageServer = Bun.serve({ unix: pageSocket, development: false, routes: { "/": page }, fetch: () => new Response("not found", { status: 404 }) });
  const caller = opCaller(options.ops, join(dataDir, "downloads"), warn);
  const events = new PageEvents(caller, warn);
  const uploads = pageUploads(join(dataDir, "uploads"), caller);
  const pageFiles: Context["pageFiles"] = new Map();
  let server: Server<undefined>;
  try {
    server = Bun.serve({
      hostname,
      port: options.port,
      development: false,
      maxRequestBodySize: MAX_UPLOAD_BYTES,
      // An open page's stream gets a snapshot at least every 5 s (QUIET_SNAPSHOT_INTERVAL_MS), so only dead connections reach this.
      idleTimeout: IDLE_TIMEOUT_SECONDS,
      fetch: (request) => handle(request, { token, port: server.port!, pageSocket, caller, events, uploads, pageFiles }),
      error: (error) => {
        warn(`web request failed: ${error.message}`);
        return new Response("internal error", { status: 500 });
      },
    });
  } catch (error) {
    void pageServer.stop(true);
    throw new P2PError("UNAVAILABLE", `cannot serve the web page on ${formatAddress(hostname, options.port)}: ${(error as Error).message}`);
  }
  const url = `http://${formatAddress(hostname, server.port!)}/`;
  writeFileSync(join(dataDir, WEB_ADDRESS_FILE), `${url}\n${tokenFile}\n`, { mode: 0o600 });
  return {
    url,
    async stop() {
      events.close();
      caller.close();
      await server.stop(true);
      await pageServer.stop(true);
      if (existsSync(join(dataDir, WEB_ADDRESS_FILE))) unlinkSync(join(dataDir, WEB_ADDRESS_FILE));
    },
  };
}

interface Context {
  token: string;
  port: number;
  pageSocket: string;
  caller: ReturnType<typeof opCaller>;
  events: PageEvents;
  uploads: Uploads;
  /** The page's files as the page socket served them: they never change while the node runs (MAX_CACHED_PAGE_FILES). */
  pageFiles: Map<string, { body: ArrayBuffer; headers: Headers }>;
}

/** The bundle is an HTML file, a script and a stylesheet (and their source maps): this many is room to spare. */
const MAX_CACHED_PAGE_FILES = 16;

/** A file of the page, from memory after its first request: a cold load skips a hop through the page socket per file. */
async function pageFile(path: string, context: Context): Promise<Response> {
  let file = context.pageFiles.get(path);
  if (!file) {
    const response = await fetch(`http://localhost${path}`, { unix: context.pageSocket });
    if (response.status !== 200 || context.pageFiles.size >= MAX_CACHED_PAGE_FILES) return response;
    const headers = new Headers(response.headers);
    headers.delete("date"); // Bun.serve dates each answer itself
    file = { body: await response.arrayBuffer(), headers };
    context.pageFiles.set(path, file);
  }
  return new Response(file.body, { headers: file.headers });
}

async function handle(request: Request, context: Context): Promise<Response> {
  const refused = refusal(request, context.token, context.port);
  if (refused) return new Response(`${refused.message}\n`, { status: refused.status });
  const url = new URL(request.url);
  // The token leaves the address bar: the cookie carries it from here on.
  if (url.searchParams.has("token")) return new Response(null, { status: 303, headers: { location: "/", "set-cookie": tokenCookie(context.token) } });
  try {
    if (url.pathname === "/api/events") {
      if (context.events.full) return new Response("too many pages open\n", { status: 503 });
      return context.events.stream(request.signal);
    }
    if (request.method === "POST") {
      const response = await post(url, request, context);
      // What the action changed reaches open pages at once, however quiet the node was.
      if (response.ok) context.events.refresh();
      return response;
    }
    if (request.method !== "GET") return new Response("method not allowed\n", { status: 405 });
    return await pageFile(url.pathname, context);
  } catch (error) {
    if (!isP2PError(error)) throw error;
    return Response.json({ error: { code: error.code, message: error.message } }, { status: error.wireStatus.status });
  }
}

async function post(url: URL, request: Request, context: Context): Promise<Response> {
  if (url.pathname.startsWith("/api/op/")) return await action(url.pathname.slice(8), request, context);
  if (url.pathname === "/api/upload") return json(await upload(url, request, context.uploads));
  if (url.pathname === "/api/upload-folder") return json(await context.uploads.shareFolder(url.searchParams.get("name")));
  return new Response("not found\n", { status: 404 });
}

async function action(op: string, request: Request, context: Context): Promise<Response> {
  const text = await request.text();
  if (text.length > MAX_ACTION_BYTES) throw new P2PError("MALFORMED", `action body over ${MAX_ACTION_BYTES} bytes`);
  let args: unknown;
  try {
    args = text ? (JSON.parse(text) as { args?: unknown }).args : [];
  } catch {
    throw new P2PError("MALFORMED", "action body is not JSON");
  }
  args ??= [];
  if (!Array.isArray(args) || args.length > MAX_ACTION_ARGS || args.some((arg) => typeof arg !== "string")) {
    throw new P2PError("MALFORMED", `action args must be at most ${MAX_ACTION_ARGS} strings`);
  }
  return json(await context.caller.call(op, args as string[]));
}

/** A file of its own (`name`), or one file of a folder (`folder` and `path`); stored in <dataDir>/uploads/ (uploads.ts). */
function upload(url: URL, request: Request, uploads: Uploads): Promise<string> {
  const folder = url.searchParams.get("folder");
  if (folder === null) return uploads.file(url.searchParams.get("name"), request.body);
  return uploads.folderFile(folder, url.searchParams.get("path"), url.searchParams.get("first") === "1", request.body);
}

function json(body: string): Response {
  return new Response(body, { headers: { "content-type": "application/json" } });
}
