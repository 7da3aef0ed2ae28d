// Where nodes keep their data by default: $P2P_HOME (default ~/.p2p), one directory per node.

import { homedir } from "node:os";
import { join } from "node:path";
import { PEER_PORT } from "../protocol/address";

export function p2pHome(): string {
  return process.env.P2P_HOME?.trim() || join(homedir(), ".p2p");
}

/** `$P2P_HOME/<ip>`, or `<ip>-<port>` for a node off the default port, so nodes never share a directory. */
export function defaultDataDir(ip: string, port: number = PEER_PORT, home: string = p2pHome()): string {
  return join(home, port === PEER_PORT ? ip : `${ip}-${port}`);
}
