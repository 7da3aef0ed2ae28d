// The ring as an SVG picture: every node this node knows placed by its id, links to predecessor, successors and fingers, and the key range it is primary for.

export type Peer = { id: string; address: string };
export type RingView = { id: string; address: string; predecessor: Peer | null; successors: Peer[]; fingers: Peer[] };

const RADIUS = 100;
const FULL = 2n ** 160n;

/** Redraws the picture; returns how many distinct nodes it shows (this one included). */
export function drawRing(svg: SVGSVGElement, view: RingView): number {
  const nodes = new Map<string, { peer: Peer; role: string }>();
  const add = (peer: Peer, role: string) => {
    if (!nodes.has(peer.id)) nodes.set(peer.id, { peer, role });
  };
  add({ id: view.id, address: view.address }, "self");
  if (view.predecessor) add(view.predecessor, "pred");
  for (const peer of view.successors) add(peer, "succ");
  for (const peer of view.fingers) add(peer, "finger");
  const parts: string[] = [`<circle r="${RADIUS}" fill="none" stroke="#ccc"/>`];
  if (view.predecessor) parts.push(arc(view.predecessor.id, view.id));
  const [sx, sy] = point(view.id);
  for (const finger of view.fingers) parts.push(line(sx, sy, finger.id, "finger"));
  for (const succ of view.successors) parts.push(line(sx, sy, succ.id, "succ"));
  if (view.predecessor) parts.push(line(sx, sy, view.predecessor.id, "pred"));
  for (const { peer, role } of nodes.values()) {
    const [x, y] = point(peer.id);
    parts.push(`<circle class="node ${role}" data-id="${peer.id}" cx="${x}" cy="${y}" r="${role === "self" ? 6 : 4.5}"><title>${escapeText(peer.address)} ${peer.id.slice(0, 8)} (${role})</title></circle>`);
    parts.push(`<text x="${x * 1.13}" y="${y * 1.13}" font-size="7" text-anchor="middle">${escapeText(peer.address)}</text>`);
  }
  svg.innerHTML = parts.join("");
  svg.dataset.count = String(nodes.size);
  return nodes.size;
}

/** Nodes in the ring, from how far this node's successors spread (n ≈ k · 2^160 / distance to the k-th). */
export function estimateRingSize(view: RingView): number {
  const last = view.successors.at(-1);
  if (!last || last.id === view.id) return 1;
  const distance = (BigInt(`0x${last.id}`) - BigInt(`0x${view.id}`) + FULL) % FULL;
  if (distance === 0n) return 1;
  const distinct = new Set(view.successors.map((peer) => peer.id).filter((id) => id !== view.id)).size;
  return Math.max(distinct + 1, Math.round(Number((BigInt(distinct) * 1000n * FULL) / distance) / 1000));
}

function angle(id: string): number {
  return (Number(BigInt(`0x${id.slice(0, 12)}`)) / 2 ** 48) * 2 * Math.PI - Math.PI / 2;
}

function point(id: string): [number, number] {
  const a = angle(id);
  return [round(Math.cos(a) * RADIUS), round(Math.sin(a) * RADIUS)];
}

function line(x: number, y: number, id: string, role: string): string {
  const [tx, ty] = point(id);
  return `<path class="link ${role}" d="M${x},${y} Q0,0 ${tx},${ty}"/>`;
}

/** The keys this node is primary for: from just after its predecessor round to itself, clockwise. */
function arc(fromId: string, toId: string): string {
  const [fx, fy] = point(fromId);
  const [tx, ty] = point(toId);
  let sweep = angle(toId) - angle(fromId);
  if (sweep < 0) sweep += 2 * Math.PI;
  return `<path class="range" d="M${fx},${fy} A${RADIUS},${RADIUS} 0 ${sweep > Math.PI ? 1 : 0} 1 ${tx},${ty}"><title>keys this node is primary for</title></path>`;
}

function round(value: number): number {
  return Math.round(value * 10) / 10;
}

export function escapeText(text: string): string {
  return text.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`);
}
