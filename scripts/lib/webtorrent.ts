// WebTorrent beside p2p in a benchmark: one seeder and one leecher, each its own `node` process, loopback only.
//
// WebTorrent is never a dependency of this project: it is installed into a folder outside the repository,
// found through P2P_WEBTORRENT_DIR (default /tmp/wt-bench); /work/shared/webtorrent-bench.md says why each step.

import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/** Where WebTorrent is looked for unless P2P_WEBTORRENT_DIR says otherwise. */
export const DEFAULT_WEBTORRENT_DIR = "/tmp/wt-bench";
/** A seeder or leecher that has not finished in this long is stopped and the comparison reported as failed. */
const WEBTORRENT_TIMEOUT_MS = 300_000;

/** The installed WebTorrent's entry point, or null with the reason and the commands that install it. */
export function findWebTorrent(dir = process.env.P2P_WEBTORRENT_DIR || DEFAULT_WEBTORRENT_DIR): { entry: string } | { missing: string } {
  const entry = join(dir, "node_modules", "webtorrent", "index.js");
  if (existsSync(entry) && Bun.which("node")) return { entry };
  return {
    missing:
      `WebTorrent not found in ${dir} (set P2P_WEBTORRENT_DIR to its folder). Install it outside the repository:\n` +
      `  mkdir -p ${dir} && cd ${dir} && npm init -y && npm i --ignore-scripts webtorrent@2.8.5 uint8-util@2.2.5\n` +
      `  printf 'export const RTCPeerConnection = undefined, RTCSessionDescription = undefined, RTCIceCandidate = undefined, RTCDataChannel = undefined\\n' > node_modules/webrtc-polyfill/index.js\n` +
      `(--ignore-scripts and the stub: its WebRTC part downloads a native binary, and loopback TCP needs none; uint8-util 2.3 breaks webtorrent 2.8.5)`,
  };
}

/** A seeding WebTorrent process: the torrent file it wrote, its port, and how to stop it. */
export interface WebTorrentSeeder {
  torrentFile: string;
  port: number;
  stop(): Promise<void>;
}

const OPTIONS = "dht: false, lsd: false, tracker: false, natUpnp: false, natPmp: false, utp: false, webSeeds: false";

/** Starts seeding `file` on 127.0.0.1:`port` (it hashes the file first) and resolves once it is ready. */
export async function startSeeder(entry: string, file: string, work: string, port: number): Promise<WebTorrentSeeder> {
  const torrentFile = join(work, "wt.torrent");
  const script = join(work, "wt-seed.mjs");
  writeFileSync(
    script,
    `import WebTorrent from ${JSON.stringify(entry)}; import { writeFileSync } from "node:fs";
const client = new WebTorrent({ ${OPTIONS}, torrentPort: ${port} });
client.on("error", (e) => { console.error(String(e)); process.exit(1); });
client.seed(${JSON.stringify(file)}, { announce: [], private: true }, (t) => { writeFileSync(${JSON.stringify(torrentFile)}, t.torrentFile); console.log("ready"); });`,
  );
  const proc = Bun.spawn(["node", script], { stdout: "pipe", stderr: "pipe" });
  const stop = async () => {
    proc.kill();
    await proc.exited;
  };
  const reader = proc.stdout.getReader();
  const timer = setTimeout(() => proc.kill(), WEBTORRENT_TIMEOUT_MS);
  try {
    const { value } = await reader.read();
    if (!value || !new TextDecoder().decode(value).includes("ready")) throw new Error(`WebTorrent seeder failed: ${await new Response(proc.stderr).text()}`);
  } catch (error) {
    await stop();
    throw error;
  } finally {
    clearTimeout(timer);
    reader.releaseLock();
  }
  return { torrentFile, port, stop };
}

/** Seconds from a fresh leecher process adding the torrent to its `done` event, fetching from `seeder` into `outDir`. */
export async function leechSeconds(entry: string, seeder: WebTorrentSeeder, outDir: string, work: string): Promise<number> {
  const script = join(work, "wt-leech.mjs");
  writeFileSync(
    script,
    `import WebTorrent from ${JSON.stringify(entry)}; import { readFileSync } from "node:fs";
const client = new WebTorrent({ ${OPTIONS}, torrentPort: ${seeder.port + 1} });
client.on("error", (e) => { console.error(String(e)); process.exit(1); });
const started = performance.now();
const torrent = client.add(readFileSync(${JSON.stringify(seeder.torrentFile)}), { path: ${JSON.stringify(outDir)}, announce: [] });
torrent.on("ready", () => torrent.addPeer("127.0.0.1:${seeder.port}"));
torrent.on("done", () => { console.log(((performance.now() - started) / 1000).toFixed(4)); client.destroy(() => process.exit(0)); });`,
  );
  const proc = Bun.spawn(["node", script], { stdout: "pipe", stderr: "pipe" });
  const timer = setTimeout(() => proc.kill(), WEBTORRENT_TIMEOUT_MS);
  try {
    const [code, out, err] = await Promise.all([proc.exited, new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
    if (code !== 0) throw new Error(`WebTorrent leecher failed (${code}): ${err.trim()}`);
    return Number(out.trim());
  } finally {
    clearTimeout(timer);
  }
}
