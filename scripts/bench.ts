// `npm run bench`: every benchmark in turn; each prints its figures against a baseline measured in the same run.

import { join } from "node:path";

const BENCHMARKS = [
  { name: "ring (real processes)", script: "bench-ring.ts" },
  { name: "ring at rest (idle CPU per node from /proc, 16 nodes; one kill -9 at rest repaired)", script: "bench-idle.ts" },
  { name: "signed records (sign/verify, put/get/lookup latency)", script: "bench-trust.ts" },
  { name: "checked lookups (cost and effect, honest ring and one liar, over TCP)", script: "bench-lookup.ts" },
  { name: "churn (12 nodes, kill -9 + restart every 2 s for 60 s; 200 MiB download through it)", script: "bench-churn.ts" },
  { name: "transfers (1 GiB vs curl; 3 rate-limited holders)", script: "bench-transfer.ts" },
  { name: "private network (512 MiB, one holder, with and without --key, vs curl)", script: "bench-key.ts" },
  { name: "flash crowds of 4, 8, 16, a late joiner, and a slow holder", script: "bench-crowd.ts" },
  { name: "swarm simulation (virtual time, 8 to 200 downloaders)", script: "bench-swarm-sim.ts" },
  { name: "memory under abuse (50 connections x 64 GET_CHUNK, never reading)", script: "bench-abuse.ts" },
  { name: "ring (simulation, standard table)", script: "sim-table.ts" },
  { name: "DNS (JOIN and PING from 1,000 connections: back to back, and paced at 10,000/s)", script: "bench-dns.ts" },
  { name: "scale (100, 250 and 500 real nodes: ring, idle CPU, memory, idle bytes, latency)", script: "bench-scale.ts" },
  { name: "web page (first load, an open page's CPU, a 1 GiB download with 20 pages open, binary size)", script: "bench-web.ts" },
];

let failed = 0;
for (const { name, script } of BENCHMARKS) {
  console.log(`\n== ${name}: npx bun scripts/${script}`);
  const run = Bun.spawn([process.execPath, join(import.meta.dir, script)], { stdio: ["ignore", "inherit", "inherit"] });
  if ((await run.exited) !== 0) failed++;
}
process.exit(failed === 0 ? 0 : 1);
