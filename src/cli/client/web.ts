// `p2p client web`: prints the node's web page URL with its token (read from the node's data dir); opens nothing.

import { defineCommand } from "citty";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { P2PError } from "../../protocol/errors";
import { runCommand } from "../common";
import { clientArgs, findNodeSocket } from "../find-node";
import { WEB_ADDRESS_FILE, WEB_TOKEN_FILE } from "../../web/files";

export default defineCommand({
  meta: { name: "web", description: "Print the URL of the node's web page, with its token (the node must run with --web)" },
  args: clientArgs,
  run: ({ args }) =>
    runCommand(args, async () => {
      const dataDir = dirname(await findNodeSocket(args));
      const addressFile = join(dataDir, WEB_ADDRESS_FILE);
      if (!existsSync(addressFile)) throw new P2PError("NOT_FOUND", `the node in ${dataDir} serves no web page; start it with --web`);
      const [url, tokenFile] = readFileSync(addressFile, "utf8").trim().split("\n");
      const token = readFileSync(tokenFile ?? join(dataDir, WEB_TOKEN_FILE), "utf8").trim();
      const link = `${url}?token=${token}`;
      process.stdout.write(args.json ? `${JSON.stringify({ url: link })}\n` : `${link}\n`);
    }),
});
