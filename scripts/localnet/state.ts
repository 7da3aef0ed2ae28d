// The small file that remembers running local networks (pids, P2P_HOME) so `npm run cluster -- stop` stops exactly those.

import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir, userInfo } from "node:os";
import { dirname, join } from "node:path";
import { ScriptError } from "./errors";

export interface RecordedProcess {
  /** "dns", or a node's name (alpha) or address. */
  role: string;
  /** host:port it listens on. */
  address: string;
  pid: number;
}

export interface RecordedNetwork {
  /** Who started it: "demo" or "cluster". */
  startedBy: string;
  /** host:port of its DNS; it identifies the network (two networks cannot share it). */
  dns: string;
  home: string;
  startedAt: string;
  processes: RecordedProcess[];
}

interface StateFile {
  networks: RecordedNetwork[];
}

/** Per user and outside the repository: $P2P_CLUSTER_STATE, or <tmpdir>/p2p-cluster-<user>.json. */
export function defaultStatePath(): string {
  return process.env.P2P_CLUSTER_STATE?.trim() || join(tmpdir(), `p2p-cluster-${userInfo().username}.json`);
}

export function readNetworks(path: string): RecordedNetwork[] {
  if (!existsSync(path)) return [];
  try {
    const state = JSON.parse(readFileSync(path, "utf8")) as StateFile;
    if (!Array.isArray(state.networks)) throw new Error("no networks list");
    return state.networks;
  } catch (error) {
    throw new ScriptError(`cannot read the cluster state ${path} (${(error as Error).message}); remove it if no network runs`);
  }
}

function writeNetworks(path: string, networks: RecordedNetwork[]): void {
  if (networks.length === 0) {
    rmSync(path, { force: true });
    return;
  }
  mkdirSync(dirname(path), { recursive: true });
  // Write then rename, so a reader never sees half a file.
  const temporary = `${path}.${process.pid}.tmp`;
  writeFileSync(temporary, `${JSON.stringify({ networks }, null, 2)}\n`, { mode: 0o600 });
  renameSync(temporary, path);
}

export function recordNetwork(path: string, network: RecordedNetwork): void {
  writeNetworks(path, [...readNetworks(path).filter((known) => known.dns !== network.dns), network]);
}

export function forgetNetwork(path: string, dns: string): void {
  writeNetworks(path, readNetworks(path).filter((known) => known.dns !== dns));
}
