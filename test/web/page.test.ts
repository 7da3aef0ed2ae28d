// The web page in a real browser against a real 5-node testnet: the ring picture, search and download, upload by the page.
// With P2P_SCREENSHOT=1 it also writes docs/web.png, the README's picture of the page.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Browser, ElementHandle, Page } from "puppeteer-core";
import { type Testnet, createTestnet } from "../../src/testnet";
import { builtBinary } from "../helpers/binary";
import { browserMissing, launchBrowser } from "../helpers/browser";
import { REPO_ROOT, runP2P } from "../helpers/processes";
import { tempDir, waitFor } from "../helpers/wait";

const missing = browserMissing();
if (missing) console.log(`skipping the web page's browser tests: ${missing}`);

/** Ring upkeep as the defaults have it, only quicker, so a death is repaired within seconds. */
const RING = ["--stabilize", "200", "--rpc-timeout", "1000"];
const REPAIR_MS = 30_000;
const sha256 = (data: Uint8Array) => new Bun.CryptoHasher("sha256").update(data).digest("hex");

describe.skipIf(missing !== null)("the web page in a browser", () => {
  let net: Testnet;
  let browser: Browser;
  let page: Page;
  const dir = tempDir();

  const client = (ip: string, args: string[]) => runP2P(["client", ...args, "--node", ip], { env: net.env, executable: net.executable, timeoutMs: 60_000 });
  const ringCount = () => page.$eval("#ring", (svg) => Number((svg as SVGElement).dataset.count ?? 0));

  beforeAll(async () => {
    net = await createTestnet({ nodes: 5, executable: [await builtBinary()], nodeArgs: [...RING, "--web"] });
    await net.waitForConsistentRing(REPAIR_MS);
    const printed = await client(net.nodes[0]!.ip, ["web"]);
    expect(printed.code).toBe(0);
    browser = await launchBrowser();
    page = await browser.newPage();
    await page.setViewport({ width: 1280, height: 900 });
    await page.goto(printed.stdout.trim(), { waitUntil: "domcontentloaded", timeout: 30_000 });
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await net?.close();
    dir.remove();
  });

  test("the ring picture shows all 5 nodes", async () => {
    await waitFor("the ring picture to show 5 nodes", async () => (await ringCount()) === 5, REPAIR_MS, 250);
  }, REPAIR_MS + 5_000);

  test("searching and clicking download fetches the file intact, its progress bar at 100 %", async () => {
    const data = randomBytes(3 * 1024 * 1024);
    const original = join(dir.path, "harbour-photos.bin");
    writeFileSync(original, data);
    expect((await client(net.nodes[1]!.ip, ["upload", original])).code).toBe(0);
    await waitFor("a search to find the file", async () => (await client(net.nodes[0]!.ip, ["search", "harbour"])).stdout.includes("harbour-photos.bin"), 20_000, 250);

    await page.$eval("#search", (input) => ((input as HTMLInputElement).value = "harbour"));
    await page.click("#search-form button");
    const download = await page.waitForSelector("#files tbody tr button", { timeout: 10_000 });
    await download!.click();
    const ended = await page.waitForSelector('#transfers tr:is([data-state="done"], [data-state="failed"], [data-state="cancelled"], [data-state="stopped"])', { timeout: 60_000 }).catch(async (error) => {
      console.log("the page and the node's log when the download did not end:", await page.evaluate(() => document.querySelector("main")?.textContent), net.nodes[0]!.log().slice(-2000));
      throw error;
    });
    expect(await ended!.evaluate((row) => `${row.textContent} ${document.querySelector("#message")?.textContent}`)).toStartWith("↓ harbour-photos.bin");
    expect(await ended!.evaluate((row) => (row as HTMLElement).dataset.state)).toBe("done");
    expect(await ended!.$eval(".bar", (bar) => (bar as HTMLElement).dataset.percent)).toBe("100");
    const report = JSON.parse(new TextDecoder().decode(await net.control(net.nodes[0]!, "TRANSFERS"))) as { downloads: { name: string; path: string }[] };
    const entry = report.downloads.find((row) => row.name === "harbour-photos.bin")!;
    expect(entry.path).toBe(join(net.home, net.nodes[0]!.ip, "downloads", "harbour-photos.bin"));
    expect(sha256(readFileSync(entry.path))).toBe(sha256(data));
  }, 90_000);

  test("a file uploaded through the page is shared and found by search on another node", async () => {
    const original = join(dir.path, "lighthouse-notes.txt");
    writeFileSync(original, "notes about the lighthouse\n".repeat(1000));
    const input = await page.$("#file-input");
    await (input as unknown as { uploadFile(path: string): Promise<void> }).uploadFile(original);
    await page.waitForFunction(() => document.querySelector("#shared")?.textContent?.includes("lighthouse-notes.txt"), { timeout: 30_000 });
    await waitFor("another node's search to find the uploaded file", async () => (await client(net.nodes[2]!.ip, ["search", "lighthouse"])).stdout.includes("lighthouse-notes.txt"), 30_000, 500);
    if (process.env.P2P_SCREENSHOT === "1") await page.screenshot({ path: join(REPO_ROOT, "docs", "web.png") as `${string}.png`, fullPage: true });
  }, 60_000);

  /** The page's transfer row for `name` once it ended (done or not), and the file it wrote. */
  const endedDownload = async (name: string) => {
    const ended = (await page.waitForFunction(
      (wanted) => [...document.querySelectorAll<HTMLElement>("#transfers tr[data-state]")].find((row) => row.textContent?.startsWith(`↓ ${wanted}`) && !["queued", "downloading", "paused"].includes(row.dataset.state!)),
      { timeout: 60_000 },
      name,
    )) as unknown as ElementHandle<HTMLElement>;
    const state = await ended.evaluate((row) => `${row.dataset.state}: ${document.querySelector("#message")?.textContent}`);
    const report = JSON.parse(new TextDecoder().decode(await net.control(net.nodes[0]!, "TRANSFERS"))) as { downloads: { name: string; path: string }[] };
    return { state, path: report.downloads.find((row) => row.name === name)?.path ?? "" };
  };

  test("a link made by client link on one node, pasted on another node's page, downloads the file intact with no search", async () => {
    const data = randomBytes(2 * 1024 * 1024 + 17);
    const original = join(dir.path, "estuary-survey.bin");
    writeFileSync(original, data);
    expect((await client(net.nodes[3]!.ip, ["upload", original])).code).toBe(0);
    const made = await client(net.nodes[3]!.ip, ["link", "estuary-survey.bin"]);
    expect(made.code).toBe(0);
    const link = made.stdout.trim();
    expect(link).toStartWith("p2p:file/");

    await page.$eval("#link", (input, text) => ((input as HTMLInputElement).value = text), link);
    await page.click("#link-form button");
    const { state, path } = await endedDownload("estuary-survey.bin");
    expect(state).toStartWith("done");
    expect(path).toBe(join(net.home, net.nodes[0]!.ip, "downloads", "estuary-survey.bin"));
    expect(sha256(readFileSync(path))).toBe(sha256(data));
    // Nothing on the page searched for it: the files table never listed it.
    expect(await page.$eval("#files", (table) => table.textContent)).not.toContain("estuary-survey.bin");
  }, 90_000);

  test("a malformed link pasted on the page is one clear error, and starts no transfer", async () => {
    const rows = await page.$$eval("#transfers tbody tr", (all) => all.length);
    await page.$eval("#link", (input) => ((input as HTMLInputElement).value = "p2p:file/not-an-id/x/12//"));
    await page.click("#link-form button");
    await page.waitForFunction(() => document.querySelector("#message")?.textContent?.startsWith("invalid link:"), { timeout: 10_000 });
    expect(await page.$eval("#message", (message) => message.textContent)).toBe(
      "invalid link: the id 'not-an-id' is not 64 lowercase hex digits; a link looks like p2p:file/<id>/<name>/<size>/<holders>/<dns>",
    );
    expect(await page.$$eval("#transfers tbody tr", (all) => all.length)).toBe(rows);
  }, 30_000);

  test("a folder of two files dropped on the page is shared as one folder and found by search on another node", async () => {
    const folder = join(dir.path, "tidal-charts");
    mkdirSync(join(folder, "north"), { recursive: true });
    writeFileSync(join(folder, "overview.txt"), "tides of the estuary\n".repeat(500));
    writeFileSync(join(folder, "north", "soundings.bin"), randomBytes(300_000));
    // A real drop, as the browser delivers one from the desktop: the folder's path in the drag data.
    const box = (await (await page.$("#drop"))!.boundingBox())!;
    const cdp = await page.createCDPSession();
    const data = { items: [], files: [folder], dragOperationsMask: 1 };
    for (const type of ["dragEnter", "dragOver", "drop"]) await cdp.send("Input.dispatchDragEvent", { type: type as "drop", x: box.x + 20, y: box.y + 20, data });
    await cdp.detach();
    await page.waitForFunction(() => document.querySelector("#message")?.textContent?.startsWith("shared folder"), { timeout: 30_000 });
    expect(await page.$eval("#message", (message) => message.textContent)).toBe("shared folder tidal-charts/ (2 files)");
    const stored = join(net.home, net.nodes[0]!.ip, "uploads", "tidal-charts");
    expect(readFileSync(join(stored, "north", "soundings.bin")).equals(readFileSync(join(folder, "north", "soundings.bin")))).toBe(true);
    await waitFor("another node's search to find the folder", async () => (await client(net.nodes[2]!.ip, ["search", "tidal"])).stdout.includes("tidal-charts/"), 30_000, 500);
    const found = JSON.parse((await client(net.nodes[2]!.ip, ["search", "tidal", "--json"])).stdout) as { name: string; folder?: boolean }[];
    expect(found.find((file) => file.name === "tidal-charts")?.folder).toBe(true);
  }, 60_000);

  test("after one node is killed the ring picture shows 4 within the ring's repair time", async () => {
    await net.stopNode(net.nodes[4]!, "SIGKILL");
    await waitFor("the ring picture to show 4 nodes", async () => (await ringCount()) === 4, REPAIR_MS, 250);
  }, REPAIR_MS + 10_000);
});
