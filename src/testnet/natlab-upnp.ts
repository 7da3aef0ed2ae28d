// Router D's port mappers: miniupnpd (UPnP IGD) run in D's namespace from a config in the run's temp dir, a probe of what it grants, and the lab's NAT-PMP gateway (natpmp-gateway.ts).

import type { Subprocess } from "bun";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { PEER_PORT } from "../protocol/address";
import { hasExited } from "./processes";
import { captureTail } from "./natlab-nodes";
import { namespaceOf } from "./natlab-netns";
import type { LabRouter } from "./natlab-plan";

/** miniupnpd's start-up lines and a mapping request must come within this. */
const UPNP_TIMEOUT_MS = 10_000;

export interface UpnpRouter {
  /** One line for the report: what the daemon said and what a mapping request got. */
  describe(): string;
  /** Asks for a TCP mapping of the peer port to `ip` from inside `namespace` (upnpc); sets what describe() says. */
  probe(namespace: string, ip: string): Promise<void>;
  stop(): Promise<void>;
}

/** Starts miniupnpd in the router's namespace; when it is not installed, returns a router that says so (D is then plain NAT). */
export async function startUpnp(runId: string, router: LabRouter, home: string, onSpawn?: (proc: Subprocess) => void): Promise<UpnpRouter> {
  if (!Bun.which("miniupnpd")) {
    const natPmp = await startNatPmp(runId, router, onSpawn);
    return {
      describe: () => `${label(router)}: miniupnpd is not installed (apt-get install miniupnpd), no UPnP; NAT-PMP (the lab's gateway): ${natPmp.describe()}`,
      probe: async () => undefined,
      stop: async () => {
        if (!hasExited(natPmp.proc)) natPmp.proc.kill("SIGKILL");
        await Promise.race([natPmp.proc.exited, Bun.sleep(UPNP_TIMEOUT_MS)]);
      },
    };
  }
  const dir = join(home, "miniupnpd");
  mkdirSync(dir, { recursive: true });
  const config = join(dir, "miniupnpd.conf");
  writeFileSync(
    config,
    [
      "ext_ifname=wan",
      "listening_ip=lan",
      "port=0",
      "enable_upnp=yes",
      // NAT-PMP is the lab's own gateway's (miniupnpd 2.3.1 would refuse every mapping behind this WAN address).
      "enable_natpmp=no",
      "secure_mode=yes",
      "system_uptime=yes",
      `lease_file=${join(dir, "leases")}`,
      "uuid=5f3c1e2a-6b7d-4c8e-9f10-112233445566",
      `allow 1024-65535 ${router.lanPrefix}.0/24 1024-65535`,
      "deny 0-65535 0.0.0.0/0 0-65535",
      "",
    ].join("\n"),
  );
  const proc = Bun.spawn(["ip", "netns", "exec", namespaceOf(runId, `r${router.name}`), "miniupnpd", "-f", config, "-d", "-P", join(dir, "miniupnpd.pid")], {
    stdin: "ignore",
    stdout: "ignore",
    stderr: "pipe",
  });
  onSpawn?.(proc);
  const log = captureTail(proc.stderr as ReadableStream<Uint8Array>);
  const deadline = Date.now() + UPNP_TIMEOUT_MS;
  for (let round = 0; round < 200 && Date.now() < deadline && !hasExited(proc) && !/HTTP listening|Listening for NAT-PMP|Port forwarding is impossible/.test(log()); round++) await Bun.sleep(50);
  const natPmp = await startNatPmp(runId, router, onSpawn);
  let verdict = hasExited(proc) ? `miniupnpd exited: ${lastLine(log())}` : `miniupnpd runs${refusal(log())}`;
  return {
    describe: () => `${label(router)}: ${verdict}; NAT-PMP (the lab's gateway): ${natPmp.describe()}`,
    async probe(namespace, ip) {
      if (hasExited(proc) || !Bun.which("upnpc")) return;
      const port = String(PEER_PORT);
      const request = Bun.spawn(["ip", "netns", "exec", namespace, "upnpc", "-e", "p2p natlab", "-a", ip, port, port, "TCP"], { stdin: "ignore", stdout: "pipe", stderr: "pipe" });
      const timer = setTimeout(() => request.kill("SIGKILL"), UPNP_TIMEOUT_MS);
      const output = `${await new Response(request.stdout).text()}${await new Response(request.stderr).text()}`;
      await request.exited;
      clearTimeout(timer);
      const outcome = /is redirected to internal/.test(output) ? "granted" : `refused (${lastLine(output.split("\n").filter((line) => /IGD|failed|error|No /i.test(line)).join("\n"))})`;
      verdict = `miniupnpd runs${refusal(log())}; upnpc -a ${ip} ${port} from ${namespace.slice(namespace.lastIndexOf("-") + 1)}: ${outcome}`;
    },
    async stop() {
      for (const running of [proc, natPmp.proc]) if (!hasExited(running)) running.kill("SIGKILL");
      await Promise.race([Promise.all([proc.exited, natPmp.proc.exited]), Bun.sleep(UPNP_TIMEOUT_MS)]);
    },
  };
}

/** The lab's NAT-PMP gateway in the router's namespace; `describe` lists the mappings it made so far. */
async function startNatPmp(runId: string, router: LabRouter, onSpawn?: (proc: Subprocess) => void): Promise<{ proc: Subprocess; describe(): string }> {
  const script = join(import.meta.dir, "natpmp-gateway.ts");
  const proc = Bun.spawn(["ip", "netns", "exec", namespaceOf(runId, `r${router.name}`), process.execPath, script, "--wan", router.wan4, "--lan", router.lanPrefix], {
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  onSpawn?.(proc);
  const out = captureTail(proc.stdout as ReadableStream<Uint8Array>);
  const err = captureTail(proc.stderr as ReadableStream<Uint8Array>);
  const deadline = Date.now() + UPNP_TIMEOUT_MS;
  for (let round = 0; round < 200 && Date.now() < deadline && !hasExited(proc) && !/NAT-PMP gateway on/.test(out()); round++) await Bun.sleep(50);
  return {
    proc,
    describe: () => {
      if (hasExited(proc)) return `exited: ${lastLine(err() || out())}`;
      const mapped = out().split("\n").filter((line) => line.startsWith("mapped "));
      return mapped.length > 0 ? mapped.join(", ") : "no mapping asked for";
    },
  };
}

function label(router: LabRouter): string {
  return `${router.name.toUpperCase()} (${router.wan4})`;
}

/** miniupnpd 2.3.1 refuses to map behind a reserved WAN address (203.0.113.0/24 is one); 2.3.9 added ext_allow_private_ipv4. */
function refusal(log: string): string {
  return /Port forwarding is impossible/.test(log) ? " but refuses port forwarding: its WAN address is in a reserved range" : "";
}

function lastLine(text: string): string {
  return (text.split("\n").map((line) => line.trim()).filter(Boolean).at(-1) ?? "no output").slice(0, 160);
}
