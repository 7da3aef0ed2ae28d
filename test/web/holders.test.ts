// Holders as both front ends show them: partial holders (still downloading) counted and named by one SEARCH op, in `client search` and on the page; files of one name shown as name@id choices.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Browser, Page } from "puppeteer-core";
import { type Testnet, createTestnet } from "../../src/testnet";
import { builtBinary } from "../helpers/binary";
import { browserMissing, launchBrowser } from "../helpers/browser";
import { runP2P } from "../helpers/processes";
import { tempDir, waitFor } from "../helpers/wait";

const MiB = 1024 * 1024;
type Summary = { name: string; id: string; holders: number; partial?: number; partialHolders?: string[] };
const missing = browserMissing();

describe("holders on the page and in the CLI", () => {
  let net: Testnet;
  let pageUrl: string;
  let browser: Browser | undefined;
  let page: Page;
  const dir = tempDir();

  beforeAll(async () => {
    // Every holder serves at 1 MB/s, so a 12 MiB download stays partial for seconds.
    net = await createTestnet({ nodes: 3, executable: [await builtBinary()], nodeArgs: ["--web", "--stabilize", "200", "--upload-limit", "1"] });
    await net.waitForConsistentRing(30_000);
    pageUrl = (await cli(1, ["web"])).stdout.trim();
    if (missing === null) {
      browser = await launchBrowser();
      page = await browser.newPage();
      await page.goto(pageUrl, { waitUntil: "domcontentloaded", timeout: 30_000 });
    }
  }, 90_000);
  afterAll(async () => {
    await browser?.close();
    await net?.close();
    dir.remove();
  });

  const cli = (node: number, args: string[]) => runP2P(["client", ...args, "--node", net.nodes[node]!.ip], { env: net.env, executable: net.executable, timeoutMs: 30_000 });
  const pageSearch = async (term: string) => {
    const url = new URL(pageUrl);
    const response = await fetch(new URL("/api/op/SEARCH", url.origin), { method: "POST", headers: { cookie: `p2p_web_token=${url.searchParams.get("token")}` }, body: JSON.stringify({ args: [term] }) });
    expect(response.status).toBe(200);
    return (await response.json()) as Summary[];
  };
  const searchOnPage = async (term: string) => {
    await page.$eval("#search", (input, text) => ((input as HTMLInputElement).value = text), term);
    await page.click("#search-form button");
  };

  test("a node still downloading a file is a partial holder, counted and named alike by client search and the page's SEARCH", async () => {
    const original = join(dir.path, "delta-soundings.bin");
    writeFileSync(original, randomBytes(12 * MiB));
    expect((await cli(0, ["upload", original])).code).toBe(0);
    expect((await cli(2, ["download", "delta-soundings.bin", "--out", join(dir.path, "delta.out"), "--detach"])).code).toBe(0);
    const downloader = net.nodes[2]!.address;

    let found: Summary | undefined;
    await waitFor("search to name the downloader as a partial holder", async () => {
      found = (JSON.parse((await cli(1, ["search", "delta", "--json"])).stdout) as Summary[]).find((file) => file.name === "delta-soundings.bin");
      return found?.partial === 1;
    }, 15_000, 200);
    expect(found).toMatchObject({ holders: 1, partial: 1, partialHolders: [downloader] });
    expect((await pageSearch("delta")).find((file) => file.name === "delta-soundings.bin")).toMatchObject({ holders: 1, partial: 1, partialHolders: [downloader] });
    const table = (await cli(1, ["search", "delta"])).stdout;
    expect(table).toContain(`1 + 1 partial (${downloader})`);
    if (browser) {
      await searchOnPage("delta");
      const holders = await page.waitForSelector("#files td.holders .partial", { timeout: 10_000 });
      expect(await holders!.evaluate((span) => span.parentElement!.textContent)).toBe(`1 + 1 partial${downloader}`);
    }
  }, 60_000);

  test.skipIf(missing !== null)("files of one name are shown on the page as name@id choices", async () => {
    const ids: string[] = [];
    for (const node of [0, 1]) {
      const path = join(dir.path, `${node}`, "harbour-ledger.csv");
      await Bun.write(path, `ledger kept by node ${node}\n`);
      const shared = JSON.parse((await cli(node, ["upload", path, "--json"])).stdout) as { id: string };
      ids.push(shared.id.slice(0, 12));
    }
    await waitFor("search to find both ledgers", async () => (await pageSearch("ledger")).length === 2, 15_000, 200);
    await searchOnPage("ledger");
    await page.waitForFunction(() => document.querySelectorAll("#files tr.choice").length === 2, { timeout: 10_000 });
    const shown = await page.$$eval("#files tr.choice .choice-id", (tags) => tags.map((tag) => tag.textContent));
    expect(shown.sort()).toEqual(ids.map((id) => `@${id}`).sort());
    expect(await page.$eval("#choices", (note) => note.textContent)).toBe("2 files are named harbour-ledger.csv: each row is one choice (name@id).");
  }, 60_000);
});
