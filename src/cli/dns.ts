// `p2p dns`: runs the introducer until SIGINT/SIGTERM.

import { defineCommand } from "citty";
import { resolve } from "node:path";
import { createIntroducer, DEFAULT_TTL_SECONDS } from "../dns";
import { log } from "../log";
import { DNS_PORT, parsePort } from "../protocol/address";
import { logArgs, parseSeconds, runCommand, untilSignal } from "./common";
import { keyArg, networkKeyOption } from "./key-option";

export default defineCommand({
  meta: {
    name: "dns",
    description: "Run the P2P DNS: the introducer new peers ask for live peers to join through",
  },
  args: {
    host: { type: "string", valueHint: "address", description: "Address to listen on", default: "0.0.0.0" },
    port: { type: "string", valueHint: "port", description: "TCP port to listen on (0 picks a free one)", default: String(DNS_PORT) },
    db: { type: "string", valueHint: "file", description: "SQLite file holding the registered peers", default: "./p2pdns.db" },
    ttl: { type: "string", valueHint: "seconds", description: "Seconds a peer stays listed without a heartbeat", default: String(DEFAULT_TTL_SECONDS) },
    ...keyArg,
    ...logArgs,
  },
  run: ({ args }) =>
    runCommand(args, async () => {
      const port = parsePort(args.port, "--port", { allowZero: true });
      const ttlSeconds = parseSeconds(args.ttl, "ttl", 7 * 24 * 3600);
      const dbPath = resolve(args.db);
      const networkKey = networkKeyOption(args.key);
      const introducer = createIntroducer({ hostname: args.host, port, dbPath, ttlSeconds, networkKey: networkKey?.key, warn: (message) => log.warn(message) });
      await introducer.ready();
      const privately = networkKey ? `; private network, key ${networkKey.path}` : "";
      log.info(`p2p dns listening on ${introducer.address} (database ${dbPath}, peer TTL ${ttlSeconds} s${privately})`);
      const signal = await untilSignal();
      log.info(`${signal}: stopping`);
      await introducer.close();
    }),
});
