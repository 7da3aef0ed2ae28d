// Share links through the real binary on a real testnet: made on one node, downloaded on another with no search; bad links are one clear error.

import { beforeAll, describe, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { EXIT } from "../../src/cli/exit-codes";
import { type ShareLink, formatLink, parseLink } from "../../src/model/link";
import type { Testnet, TestnetNode } from "../../src/testnet";
import type { DownloadReport } from "../../src/wire/control";
import type { LinkReport } from "../../src/wire/control-transfers";
import { cliTestnet } from "../helpers/cli-testnet";

const cli = cliTestnet({ nodes: 2 });
const { dir, p2p, json } = cli;
let net: Testnet;
let alpha: TestnetNode;
let beta: TestnetNode;
beforeAll(() => {
  net = cli.net;
  [alpha, beta] = net.nodes as [TestnetNode, TestnetNode];
});

async function sharedOnAlpha(name: string, size: number): Promise<{ path: string; link: LinkReport }> {
  const path = join(dir.path, name);
  writeFileSync(path, randomBytes(size));
  await json(["client", "upload", path, "--node", alpha.ip]);
  return { path, link: await json<LinkReport>(["client", "link", name, "--node", alpha.ip]) };
}

describe("links", () => {
  test("a link made on one node downloads on another, byte for byte, and needs no quoting in a shell", async () => {
    const { path, link } = await sharedOnAlpha("holiday photos (2024) #1.tar", 3 * 1024 * 1024 + 17);
    // Only characters no shell treats specially: the link is one word pasted bare.
    expect(link.link).toMatch(/^p2p:file\/[0-9a-f]{64}\/[A-Za-z0-9._:%-]+\/\d+\/[A-Za-z0-9._:%,-]*\/[A-Za-z0-9._:%,-]*$/);
    expect(link.via).toContain(alpha.address);
    expect(link.dns).toEqual([net.dnsAddress]);
    const plain = await p2p(["client", "link", "holiday photos (2024) #1.tar", "--node", alpha.ip]);
    expect(plain.stdout).toBe(`${link.link}\n`);
    // Through a real shell, unquoted, as a user pastes it.
    const shell = Bun.spawnSync(["bash", "-c", `printf '%s\\n' ${link.link}`]);
    expect(shell.stdout.toString()).toBe(`${link.link}\n`);
    const out = join(dir.path, "from-link.tar");
    const report = await json<DownloadReport>(["client", "download", link.link, "--out", out, "--node", beta.ip]);
    expect(report.id).toBe(link.id);
    expect(report.name).toBe("holiday photos (2024) #1.tar");
    expect(readFileSync(out).equals(readFileSync(path))).toBe(true);
  }, 60_000);

  test("the holders a link names are asked directly, with no record of the name in the ring", async () => {
    const { path, link } = await sharedOnAlpha("direct.bin", 200_000);
    // The same id under a name nothing is announced under: only the link's holders can lead to it.
    const unannounced = formatLink({ ...(parseLink(link.link) as ShareLink), name: "never-announced.bin" });
    const out = join(dir.path, "direct.out");
    const report = await json<DownloadReport>(["client", "download", unannounced, "--out", out, "--no-share", "--node", beta.ip]);
    expect(report.sources).toEqual([alpha.address]);
    expect(readFileSync(out).equals(readFileSync(path))).toBe(true);
  }, 60_000);

  test("a link to a folder downloads the folder with its tree", async () => {
    const root = join(dir.path, "album");
    mkdirSync(join(root, "inner"), { recursive: true });
    writeFileSync(join(root, "a.raw"), randomBytes(5_000));
    writeFileSync(join(root, "inner", "b.raw"), randomBytes(7_000));
    await json(["client", "upload", root, "--node", alpha.ip]);
    const link = await json<LinkReport>(["client", "link", "album", "--node", alpha.ip]);
    expect(link.folder).toBe(true);
    expect(link.link).toStartWith("p2p:folder/");
    const out = join(dir.path, "album copy");
    const report = await json<DownloadReport>(["client", "download", link.link, "--out", out, "--node", beta.ip]);
    expect(report.folder).toBe(true);
    expect(readFileSync(join(out, "inner", "b.raw")).equals(readFileSync(join(root, "inner", "b.raw")))).toBe(true);
  }, 60_000);

  test("a malformed link is one line naming what is wrong, and nothing is written", async () => {
    const cut = await p2p(["client", "download", "p2p:file/abc/name", "--out", join(dir.path, "cut.out"), "--node", beta.ip]);
    expect(cut.code).toBe(EXIT.USAGE);
    expect(cut.stderr).toBe("error: invalid link: it has 3 '/'-separated parts after 'p2p:', not 6 (was it cut when copied?); a link looks like p2p:file/<id>/<name>/<size>/<holders>/<dns>\n");
    expect(existsSync(join(dir.path, "cut.out"))).toBe(false);
    const badId = await p2p(["client", "download", `p2p:file/${"g".repeat(64)}/x.bin/10/${alpha.address}/`, "--node", beta.ip]);
    expect(badId.code).toBe(EXIT.USAGE);
    expect(badId.stderr).toMatch(/^error: invalid link: the id 'g+' is not 64 lowercase hex digits; /);
    const path = await p2p(["client", "download", `p2p:file/${"a".repeat(64)}/..%2Fescape/10/${alpha.address}/`, "--node", beta.ip]);
    expect(path.code).toBe(EXIT.USAGE);
    expect(path.stderr.split("\n").length).toBe(2);
    expect(path.stderr).toMatch(/^error: invalid link: its name: /);
  }, 60_000);

  test("a link whose id its holders do not serve is one clear error", async () => {
    const { link } = await sharedOnAlpha("wrong-id.bin", 50_000);
    const wrong = formatLink({ ...(parseLink(link.link) as ShareLink), id: "0".repeat(64) });
    const result = await p2p(["client", "download", wrong, "--out", join(dir.path, "wrong.out"), "--node", beta.ip]);
    expect(result.code).toBe(EXIT.NOT_FOUND);
    expect(result.stderr).toBe(
      "error: no holder serves wrong-id.bin with the link's id 000000000000: the link does not match what its holders share (a mistyped or edited link, or the file changed since)\n",
    );
  }, 60_000);

  test("a link whose size is not its id's is refused as damaged", async () => {
    const { link } = await sharedOnAlpha("sized.bin", 40_000);
    const wrong = formatLink({ ...(parseLink(link.link) as ShareLink), size: 41_000 });
    const result = await p2p(["client", "download", wrong, "--out", join(dir.path, "sized.out"), "--node", beta.ip]);
    expect(result.code).toBe(EXIT.USAGE);
    expect(result.stderr).toMatch(/^error: the link says sized\.bin is 41000 bytes, but id [0-9a-f]{12} is 40000 bytes: the link is damaged\n$/);
  }, 60_000);

  test("a holder a link names off loopback is never contacted by a node on loopback", async () => {
    const { link } = await sharedOnAlpha("elsewhere.bin", 10_000);
    // 192.0.2.0/24 is reserved for documentation (RFC 5737): nothing answers there, and the node must not try.
    const offLoopback = formatLink({ ...(parseLink(link.link) as ShareLink), name: "nowhere.bin", via: ["192.0.2.1:7495"] });
    const result = await p2p(["client", "download", offLoopback, "--out", join(dir.path, "nowhere.out"), "--node", beta.ip]);
    expect(result.code).toBe(EXIT.UNREACHABLE);
    expect(result.stderr).toMatch(/the link names no holder this node can ask \(not asked: 192\.0\.2\.1:7495, on the other side of loopback from this node\)/);
    expect(beta.log()).not.toContain("192.0.2.1");
  }, 60_000);
});
