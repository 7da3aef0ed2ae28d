// Router D's port mappers in one process, run inside D's namespace: NAT-PMP (natpmp-gateway.ts) and UPnP IGD (upnp-gateway.ts) over one table of mappings.
//
// bun src/testnet/lab-gateway.ts --wan 203.0.113.14 --lan 10.0.4 --natpmp-hosts 10.0.4.3   (as root, inside the router's namespace)

import { parseArgs } from "node:util";
import { LabPortMappings } from "./lab-port-mappings";
import { startNatPmpGateway } from "./natpmp-gateway";
import { startUpnpGateway } from "./upnp-gateway";

if (import.meta.main) {
  const { values } = parseArgs({ options: { wan: { type: "string" }, lan: { type: "string" }, "natpmp-hosts": { type: "string" } } });
  if (!values.wan || !values.lan) {
    console.error("usage: lab-gateway --wan <external ip> --lan <first three octets> [--natpmp-hosts ip,ip]  (NAT-PMP for those hosts only; UPnP for all)");
    process.exit(2);
  }
  const router = { wan: values.wan, lan: values.lan };
  const mappings = new LabPortMappings(router);
  const hosts = values["natpmp-hosts"] === undefined ? undefined : values["natpmp-hosts"].split(",").filter(Boolean);
  await startNatPmpGateway({ ...router, mappings, hosts });
  await startUpnpGateway({ ...router, mappings, multicast: true });
}
