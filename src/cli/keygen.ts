// `p2p keygen`: writes a new private-network key file for `p2p dns --key` and `p2p node --key`.

import { defineCommand } from "citty";
import { existsSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { P2PError } from "../protocol/errors";
import { writeNetworkKey } from "../protocol/network-key";
import { runCommand } from "./common";

/** Where `p2p keygen` writes without --out. */
export const DEFAULT_KEY_FILE = "p2p.key";

export default defineCommand({
  meta: {
    name: "keygen",
    description: "Write a new private-network key (32 random bytes, hex, mode 0600); run every dns and node of the network with --key FILE",
  },
  args: {
    out: { type: "string", valueHint: "file", description: "File to write", default: DEFAULT_KEY_FILE },
    force: { type: "boolean", description: "Replace an existing file", default: false },
  },
  run: ({ args }) =>
    runCommand({}, async () => {
      const path = resolve(args.out);
      // The same code and words as a download into a missing folder (exit 3), not a generic failure.
      if (!existsSync(dirname(path))) throw P2PError.missingFolder(dirname(path));
      writeNetworkKey(path, { force: args.force });
      process.stdout.write(`wrote a new network key to ${path}\nstart every p2p dns and p2p node of the network with --key ${path} (or P2P_KEY=${path}); copy it to other machines privately\n`);
    }),
});
