// Finds the local node's control socket: --socket, --node <ip>, or the only node running under $P2P_HOME.

import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { connect } from "../protocol/client";
import { isP2PError, P2PError } from "../protocol/errors";
import { defaultDataDir, p2pHome } from "../node/home";
import { PEER_PORT, formatAddress, parsePeerAddress } from "../protocol/address";
import { canonicalIp } from "../protocol/ip";
import { logArgs } from "./common";

export const targetArgs = {
  node: { type: "string", valueHint: "ip", description: "The node's address (its directory under $P2P_HOME), e.g. 127.0.0.2" },
  socket: { type: "string", valueHint: "path", description: "Path to the node's control socket (overrides --node)" },
} as const;

/** The options every client command takes, before or after its name. */
export const clientArgs = {
  ...targetArgs,
  json: { type: "boolean", description: "Print one JSON value instead of text (errors too: {\"error\": {...}})", default: false },
  ...logArgs,
} as const;

/** Most node directories looked at when searching $P2P_HOME. */
const MAX_NODE_DIRS = 256;

export async function findNodeSocket(options: { node?: string; socket?: string }): Promise<string> {
  if (options.socket) return options.socket;
  const home = p2pHome();
  if (options.node) {
    const path = join(nodeDirectory(home, options.node), "node.sock");
    if (!existsSync(path)) {
      throw new P2PError("NOT_FOUND", `no node for ${options.node} under ${home} (no ${path}); start one with: p2p node ${options.node}`);
    }
    return path;
  }
  // One socket file: the command's own connection tells whether a node answers there (and says so if not);
  // probing it first would cost a connection more on every command.
  const sockets = socketFiles(home);
  if (sockets.length === 1) return sockets[0]!.path;
  const live = await liveNodes(home);
  if (live.length === 1) return live[0]!.path;
  if (live.length === 0) {
    throw new P2PError("NOT_FOUND", `no running node found under ${home}; start one with: p2p node <ip> (or set P2P_HOME, or pass --socket)`);
  }
  throw new P2PError(
    "CONFLICT",
    `${live.length} nodes run under ${home}: ${live.map((candidate) => candidate.name).join(", ")}; choose one with --node <ip>`,
  );
}

/** The nodes under $P2P_HOME whose control socket answers, by address (127.0.0.9 before 127.0.0.10): directory name and socket path. */
export async function liveNodes(home = p2pHome()): Promise<{ name: string; path: string }[]> {
  const candidates = socketFiles(home);
  return (await Promise.all(candidates.map(async (candidate) => ((await answers(candidate.path)) ? candidate : null)))).filter(
    (candidate) => candidate !== null,
  );
}

/** The node directories under `home` that hold a control socket file, live or left behind by a crash. */
function socketFiles(home: string): { name: string; path: string }[] {
  if (!existsSync(home)) return [];
  return readdirSync(home)
    .sort((a, b) => a.localeCompare(b, "en", { numeric: true }))
    .slice(0, MAX_NODE_DIRS)
    .map((name) => ({ name, path: join(home, name, "node.sock") }))
    .filter((candidate) => existsSync(candidate.path));
}

async function answers(path: string): Promise<boolean> {
  try {
    const client = await connect({ unix: path }, { connectTimeoutMs: 1_000 });
    client.close();
    return true;
  } catch {
    return false;
  }
}

/**
 * The directory `--node` names: an address in any spelling (`127.0.0.2`, `::ffff:127.0.0.2`, `127.0.0.2:7496`,
 * `::1`, `[::1]`, `[::1]:7497`) is read as the node reads its own, so it finds the directory the node chose;
 * an address without a port also finds the one node on that address off the default port (`::1-7497`).
 * Anything else is a directory name as it is (`127.0.0.2-7496`, `::1-7497`).
 */
function nodeDirectory(home: string, value: string): string {
  if (value.includes("-") && existsSync(join(home, value, "node.sock"))) return join(home, value);
  const address = readAddress(value);
  if (!address) return join(home, value);
  const named = defaultDataDir(address.ip, address.port ?? PEER_PORT, home);
  if (address.port !== null || existsSync(join(named, "node.sock"))) return named;
  const offDefault = socketFiles(home).filter((candidate) => candidate.name.startsWith(`${address.ip}-`) && /^\d+$/.test(candidate.name.slice(address.ip.length + 1)));
  if (offDefault.length > 1) {
    const choices = offDefault.map((candidate) => formatAddress(address.ip, Number(candidate.name.slice(address.ip.length + 1))));
    throw new P2PError("CONFLICT", `${offDefault.length} nodes run on ${address.ip} under ${home}: ${choices.join(", ")}; choose one with --node <ip>:<port>`);
  }
  return offDefault.length === 1 ? join(home, offDefault[0]!.name) : named;
}

/** `value` as an IP address with a port, or without one (port null), or null when it is neither. */
function readAddress(value: string): { ip: string; port: number | null } | null {
  const ip = canonicalIp(/^\[[^\]]*\]$/.test(value) ? value.slice(1, -1) : value);
  if (ip !== null) return { ip, port: null };
  try {
    return parsePeerAddress(value);
  } catch (error) {
    if (isP2PError(error)) return null;
    throw error;
  }
}
