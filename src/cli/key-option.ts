// The --key option `p2p dns` and `p2p node` share: the private network's key file (env P2P_KEY).

import { resolve } from "node:path";
import { log } from "../log";
import { P2PError } from "../protocol/errors";
import { readNetworkKey } from "../protocol/network-key";

export const keyArg = {
  key: {
    type: "string",
    valueHint: "file",
    description: "Private network: the key file `p2p keygen` wrote (env P2P_KEY); every TCP link then needs it. Without it the network is open",
  },
} as const;

/** The key named by --key, else by P2P_KEY (empty: none); undefined for an open network. */
export function networkKeyOption(value: string | undefined): { key: Uint8Array; path: string } | undefined {
  if (value !== undefined && value.trim() === "") throw new P2PError("MALFORMED", "--key needs a file (the one `p2p keygen` wrote)");
  const given = value ?? process.env.P2P_KEY;
  if (given === undefined || given.trim() === "") return undefined;
  const path = resolve(given);
  const { key, exposed } = readNetworkKey(path);
  if (exposed) log.warn(`the network key ${path} is readable by other users of this machine: chmod 600 it`);
  return { key, path };
}
