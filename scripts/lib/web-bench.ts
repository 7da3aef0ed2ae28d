// What bench-web.ts measures in the browser and in /proc: a cold first load of the page, open pages held, a node's CPU, the binary without the page.

import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser, BrowserContext } from "puppeteer-core";
import { CLOCK_TICKS_PER_SECOND, cpuTicks } from "../../src/testnet/cpu-calm";

/** How long a page may take to show its first snapshot before the benchmark gives up. */
const PAGE_READY_MS = 30_000;

export type FirstLoad = { bytes: number; requests: number; firstPaintMs: number; firstContentfulPaintMs: number; snapshotMs: number };

/** One cold load in a fresh browser context (no cache, no cookie): bytes over the wire until the page shows the node, and its paint times. */
export async function coldLoad(browser: Browser, url: string): Promise<FirstLoad> {
  const context = await browser.createBrowserContext();
  try {
    const page = await context.newPage();
    const cdp = await page.createCDPSession();
    await cdp.send("Network.enable");
    await cdp.send("Network.setCacheDisabled", { cacheDisabled: true });
    const bytes = new Map<string, number>();
    const finished = new Set<string>();
    const streams = new Set<string>();
    cdp.on("Network.requestWillBeSent", (event) => {
      if (event.request.url.includes("/api/events")) streams.add(event.requestId);
    });
    // A stream never finishes: its bytes are what arrived; a finished request's total includes its headers.
    cdp.on("Network.dataReceived", (event) => bytes.set(event.requestId, (bytes.get(event.requestId) ?? 0) + event.encodedDataLength));
    cdp.on("Network.loadingFinished", (event) => {
      bytes.set(event.requestId, Math.max(bytes.get(event.requestId) ?? 0, event.encodedDataLength));
      finished.add(event.requestId);
    });
    const started = performance.now();
    await page.goto(url, { waitUntil: "load", timeout: PAGE_READY_MS });
    await page.waitForFunction(() => !document.querySelector("#status")?.textContent?.startsWith("connecting"), { timeout: PAGE_READY_MS });
    const snapshotMs = performance.now() - started;
    // The file list the page asks for on load counts too: wait until every request but the stream is done.
    const deadline = Date.now() + PAGE_READY_MS;
    while ([...bytes.keys()].some((id) => !finished.has(id) && !streams.has(id)) && Date.now() < deadline) await Bun.sleep(50);
    // A paint entry is recorded once the frame is presented, which may be just after the DOM showed the snapshot.
    await page.waitForFunction(() => performance.getEntriesByType("paint").some((entry) => entry.name === "first-contentful-paint"), { timeout: PAGE_READY_MS });
    const paints = await page.evaluate(() => Object.fromEntries(performance.getEntriesByType("paint").map((entry) => [entry.name, entry.startTime])));
    return {
      bytes: [...bytes.values()].reduce((sum, value) => sum + value, 0),
      requests: bytes.size,
      firstPaintMs: paints["first-paint"] ?? Number.NaN,
      firstContentfulPaintMs: paints["first-contentful-paint"] ?? Number.NaN,
      snapshotMs,
    };
  } finally {
    await context.close();
  }
}

/**
 * The baseline for a first paint: a page of the same shape (HTML, a stylesheet, a module script) from a plain
 * Bun.serve on loopback, so a figure says what the node's page adds to what a fresh browser context costs here.
 */
export function baselinePage(): { url: string; stop(): void } {
  const html = `<!doctype html><html><head><title>baseline</title><link rel="stylesheet" href="/s.css"><script type="module" src="/a.js"></script></head><body><span id="status">ready</span></body></html>`;
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    routes: {
      "/": new Response(html, { headers: { "content-type": "text/html" } }),
      "/s.css": new Response("body { font: 14px sans-serif; }", { headers: { "content-type": "text/css" } }),
      "/a.js": new Response("document.title = 'loaded';", { headers: { "content-type": "text/javascript" } }),
    },
    fetch: () => new Response("not found", { status: 404 }),
  });
  return { url: `http://127.0.0.1:${server.port}/`, stop: () => void server.stop(true) };
}

/** `count` pages open on `url`, each in its own context (Chromium holds at most 6 connections per host in one), each showing a snapshot. */
export async function openPages(browser: Browser, url: string, count: number): Promise<{ close(): Promise<void> }> {
  const contexts: BrowserContext[] = [];
  const close = async () => {
    await Promise.all(contexts.map((context) => context.close()));
  };
  try {
    for (let index = 0; index < count; index++) {
      const context = await browser.createBrowserContext();
      contexts.push(context);
      const page = await context.newPage();
      await page.goto(url, { waitUntil: "load", timeout: PAGE_READY_MS });
      await page.waitForFunction(() => !document.querySelector("#status")?.textContent?.startsWith("connecting"), { timeout: PAGE_READY_MS });
    }
  } catch (error) {
    await close();
    throw error;
  }
  return { close };
}

/**
 * `count` bare event streams on the page's /api/events, read and thrown away, with the token's cookie: what open pages
 * cost the node, without the browser's own rendering on the same cores.
 */
export async function openStreams(url: string, count: number): Promise<{ close(): Promise<void> }> {
  const page = new URL(url);
  const cookie = `p2p_web_token=${page.searchParams.get("token")}`;
  const stop = new AbortController();
  const readers = await Promise.all(
    Array.from({ length: count }, async () => {
      const response = await fetch(new URL("/api/events", page.origin), { headers: { cookie }, signal: stop.signal });
      if (!response.ok || !response.body) throw new Error(`/api/events answered ${response.status}`);
      const reader = response.body.getReader();
      // Wrapped: an async function returning the promise itself would wait for the stream's end here.
      const drain = (async () => {
        while (!(await reader.read().catch(() => ({ done: true }))).done);
      })();
      return { drain };
    }),
  );
  return {
    async close() {
      stop.abort();
      await Promise.all(readers.map((reader) => reader.drain));
    },
  };
}

/** User + system CPU of `pid` over `seconds`, in percent of one core. */
export async function cpuPercent(pid: number, seconds: number): Promise<number> {
  const before = cpuTicks(pid);
  const from = performance.now();
  await Bun.sleep(seconds * 1000);
  const elapsed = (performance.now() - from) / 1000;
  return (100 * (cpuTicks(pid) - before)) / CLOCK_TICKS_PER_SECOND / elapsed;
}


/**
 * `dist/p2p` built the same way from a copy of src/ whose page is one empty response: what the page adds to the
 * binary. Returns the size in bytes of that build (the copy is removed).
 */
export function sizeWithoutPage(root: string): number {
  const copy = mkdtempSync(join(tmpdir(), "p2p-nopage-"));
  try {
    cpSync(join(root, "src"), join(copy, "src"), { recursive: true });
    mkdirSync(join(copy, "scripts"));
    cpSync(join(root, "scripts", "build.ts"), join(copy, "scripts", "build.ts"));
    cpSync(join(root, "package.json"), join(copy, "package.json"));
    symlinkSync(join(root, "node_modules"), join(copy, "node_modules"));
    const server = join(copy, "src", "web", "server.ts");
    const source = readFileSync(server, "utf8");
    const stubbed = source.replace(/^import page from "\.\/page\/index\.html";$/m, 'const page = new Response("");');
    if (stubbed === source) throw new Error("src/web/server.ts no longer imports ./page/index.html as the benchmark expects");
    writeFileSync(server, stubbed);
    rmSync(join(copy, "src", "web", "page"), { recursive: true });
    const outfile = join(copy, "p2p");
    const build = Bun.spawnSync([process.execPath, join(copy, "scripts", "build.ts"), "--outfile", outfile], { cwd: copy, stdout: "ignore", stderr: "inherit" });
    if (build.exitCode !== 0) throw new Error("building without the page failed");
    return statSync(outfile).size;
  } finally {
    rmSync(copy, { recursive: true, force: true });
  }
}
