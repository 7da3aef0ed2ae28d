// Seeded generators of hostile inputs for each p2p server: mutated valid requests, garbage, lying lengths, wrong JSON.
//
// LOOPBACK ONLY, even as data: every address generated is 127.x.y.z inside the test's subnet (or plainly invalid),
// and `isSafe` rejects any input that still spells another address. Control-socket paths stay in the test's dir.

import { isIP } from "node:net";
import { nodeId, ringId } from "../../src/model/id";

/** mulberry32: small, fast, and the same sequence for the same seed. */
export function prng(seed: number): Random {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const random: Random = {
    next,
    int: (low, high) => low + Math.floor(next() * (high - low + 1)),
    chance: (p) => next() < p,
    pick: (items) => items[Math.floor(next() * items.length)]!,
    bytes: (length) => {
      const out = new Uint8Array(length);
      for (let index = 0; index < length; index++) out[index] = Math.floor(next() * 256);
      return out;
    },
  };
  return random;
}

export interface Random {
  next(): number;
  int(low: number, high: number): number;
  chance(p: number): boolean;
  pick<T>(items: readonly T[]): T;
  bytes(length: number): Uint8Array;
}

/** One generated input: the bytes to send, and whether the server can answer it (false: a lying length left it waiting). */
export interface FuzzInput {
  bytes: Uint8Array;
  /** Frames the server should answer (0 for a stream it must give up on). */
  answerable: boolean;
  /** The stream's framing is broken after this input: the server answers 422 and closes. */
  breaksStream: boolean;
  label: string;
}

export interface FuzzTarget {
  /** "dns" | "peer" | "control" */
  kind: "dns" | "peer" | "control";
  /** First three octets of the test's loopback subnet, e.g. "127.88.3". */
  subnet: string;
  /** Ports the test's own servers use (the peer port, the DNS port); anything else generated is one nothing listens on. */
  ports: number[];
  /** The control socket's scratch directory: the only place paths may point. */
  scratchDir?: string;
}

const encoder = new TextEncoder();

/** Builds a generator for one server; call it as often as needed. */
export function inputGenerator(target: FuzzTarget, random: Random): () => FuzzInput {
  const args = argGenerators(target, random);
  const ops = OPS[target.kind];
  return () => {
    for (let attempt = 0; attempt < 20; attempt++) {
      const input = generate(target, random, ops, args);
      if (isSafe(input.bytes, target)) return input;
    }
    return { bytes: encoder.encode("PING\r\n"), answerable: true, breaksStream: false, label: "fallback PING" };
  };
}

/** Each op with a generator of plausible arguments and, for body ops, a plausible body. */
interface OpModel {
  args: Array<keyof ArgGenerators>;
  optional?: number;
  body?: keyof BodyGenerators;
}

const OPS: Record<FuzzTarget["kind"], Record<string, OpModel>> = {
  dns: {
    JOIN: { args: ["peerId", "ip", "port"], optional: 1 },
    LEAVE: { args: ["peerId"] },
    DELETE: { args: ["peerId"] },
    PEERS: { args: [] },
    PING: { args: [] },
  },
  peer: {
    PING: { args: [] },
    FIND_SUCCESSOR: { args: ["key", "avoid"], optional: 1 },
    GET_NEIGHBOURS: { args: [] },
    UPDATE_PREDECESSOR: { args: ["peer"] },
    PUT_RECORDS: { args: [], body: "records" },
    GET_RECORDS: { args: ["key"] },
    LEAVING: { args: ["peer"], body: "handover" },
    GET_MANIFEST: { args: ["fileId"] },
    GET_CHUNK: { args: ["fileId", "index"] },
    LIST_ALL_FILES: { args: ["key"] },
  },
  // Never LEAVE: it stops the node. UPLOAD and DOWNLOAD paths are generated inside the scratch dir only.
  control: {
    PING: { args: [] },
    STATUS: { args: [] },
    LOOKUP: { args: ["text"] },
    PUT: { args: ["text", "text", "text", "number"], optional: 1 },
    GET: { args: ["text"] },
    UPLOAD: { args: ["path", "name"], optional: 1 },
    LIST: { args: [] },
    SEARCH: { args: ["text"] },
    DOWNLOAD: { args: ["name", "outPath", "flag"], optional: 1 },
  },
};

/** Ops whose arguments must never be mutated character by character (they name files). */
const PATH_OPS = new Set(["UPLOAD", "DOWNLOAD"]);

function generate(target: FuzzTarget, random: Random, ops: Record<string, OpModel>, args: ArgGenerators): FuzzInput {
  const names = Object.keys(ops);
  const roll = random.next();
  if (roll < 0.55) return validish(target, random, ops, args, random.pick(names), false);
  if (roll < 0.75) return validish(target, random, ops, args, random.pick(names), true);
  if (roll < 0.8) {
    const op = randomOpName(random, target);
    return line([op, ...Array.from({ length: random.int(0, 3) }, () => args.text())], `unknown op ${op}`);
  }
  if (roll < 0.86) {
    const junk = random.bytes(random.int(1, 200)).map((byte) => (byte === 0x0a ? 0x20 : byte));
    return { bytes: concat(junk, encoder.encode("\r\n")), answerable: true, breaksStream: true, label: "binary garbage line" };
  }
  if (roll < 0.88) return { bytes: encoder.encode(`${"A".repeat(random.int(8200, 12000))}\r\n`), answerable: true, breaksStream: true, label: "overlong line" };
  if (roll < 0.9) return line([random.pick(names), ...Array.from({ length: random.int(17, 40) }, () => "x")], "too many arguments", true);
  if (roll < 0.92) return { bytes: encoder.encode(random.pick(["\r\n", " \r\n", "\n", "   \n"])), answerable: true, breaksStream: true, label: "empty line" };
  return lyingBody(target, random, ops);
}

/** A request built from the op's own argument generators, then (maybe) mutated. */
function validish(target: FuzzTarget, random: Random, ops: Record<string, OpModel>, args: ArgGenerators, op: string, mutate: boolean): FuzzInput {
  const model = ops[op]!;
  const required = model.args.length - (model.optional ?? 0);
  let count = random.chance(0.85) ? random.int(required, model.args.length) : random.int(0, model.args.length + 2);
  if (PATH_OPS.has(op)) count = Math.max(count, op === "DOWNLOAD" ? 2 : 1);
  // "peer" stands for three tokens (id ip port), coherent most of the time so the body gets looked at.
  const tokens = Array.from({ length: count }, (_, index) => (model.args[index] ? args[model.args[index]!]() : args.text())).flatMap((token) =>
    token.startsWith(PEER_MARK) ? token.slice(PEER_MARK.length).split(" ").slice(0, random.chance(0.9) ? 3 : random.int(0, 4)) : [token],
  );
  const opName = random.chance(0.1) ? op.toLowerCase() : op;
  if (model.body) {
    const body = BODIES[model.body](random, target);
    const bytes = typeof body === "string" ? encoder.encode(body) : body;
    return { bytes: concat(encoder.encode(`${[opName, ...tokens.map(encodeURIComponent), String(bytes.length)].join(" ")}\r\n`), bytes), answerable: true, breaksStream: false, label: `${op} with a body` };
  }
  if (!mutate || PATH_OPS.has(op)) return line([opName, ...tokens], op);
  return mutateLine([opName, ...tokens.map(encodeURIComponent)].join(" "), random, op);
}

/** Character-level damage to one line: drops, insertions, swapped tokens, broken escapes. */
function mutateLine(text: string, random: Random, op: string): FuzzInput {
  let out = text;
  for (let step = 0; step < random.int(1, 3); step++) {
    const at = random.int(0, out.length);
    switch (random.int(0, 5)) {
      case 0:
        out = out.slice(0, at) + out.slice(at + 1);
        break;
      case 1:
        out = out.slice(0, at) + random.pick(["%", "%zz", " ", "\t", "\u0000", "é", "%0D%0A", "-", "999999999999"]) + out.slice(at);
        break;
      case 2:
        out = `${out} ${out.split(" ").slice(1).join(" ")}`.trim();
        break;
      case 3:
        out = out.split(" ").reverse().join(" ");
        break;
      case 4:
        out = out.split(" ").slice(0, -1).join(" ") || out;
        break;
      default:
        out = out.replace(/\d/, String(random.int(0, 9)));
    }
  }
  // A mutated op name must still never be LEAVE; `isSafe` checks that too.
  const bytes = encoder.encode(`${out}\r\n`);
  const breaks = out.trim().length === 0 || !isValidUtf8(bytes);
  return { bytes, answerable: true, breaksStream: breaks, label: `mutated ${op}` };
}

/** A body op whose declared length lies: too short (the server waits: the test gives up), too big, or not a number. */
function lyingBody(target: FuzzTarget, random: Random, ops: Record<string, OpModel>): FuzzInput {
  const bodyOps = Object.keys(ops).filter((op) => ops[op]!.body);
  const op = bodyOps.length > 0 ? random.pick(bodyOps) : "PING";
  const kind = random.int(0, 2);
  if (kind === 0) {
    const declared = random.int(10, 5000);
    const bytes = encoder.encode(`${op} ${declared}\r\n${"x".repeat(random.int(0, 9))}`);
    return { bytes, answerable: false, breaksStream: false, label: `${op} declares more body than it sends` };
  }
  if (kind === 1) {
    return { bytes: encoder.encode(`${op} ${random.pick(["99999999999", "17000000", "1e9", String(2 ** 60)])}\r\n`), answerable: true, breaksStream: true, label: `${op} with a huge length` };
  }
  return { bytes: encoder.encode(`${op} ${random.pick(["-1", "abc", "", "0x10", "1.5"])}\r\n`), answerable: true, breaksStream: bodyOps.length > 0, label: `${op} with a bad length` };
}

function line(tokens: string[], label: string, breaksStream = false): FuzzInput {
  return { bytes: encoder.encode(`${tokens.map((token, index) => (index === 0 ? token : encodeURIComponent(token))).join(" ")}\r\n`), answerable: true, breaksStream, label };
}

function randomOpName(random: Random, target: FuzzTarget): string {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ_";
  for (;;) {
    const name = Array.from({ length: random.int(1, 14) }, () => random.pick([...alphabet])).join("");
    if (name !== "LEAVE" && !(name in OPS[target.kind])) return name;
  }
}

const PEER_MARK = "\u0001peer\u0001";

type ArgGenerators = Record<"peer" | "peerId" | "nodeId" | "ip" | "port" | "key" | "avoid" | "fileId" | "index" | "text" | "number" | "path" | "name" | "outPath" | "flag", () => string>;

function argGenerators(target: FuzzTarget, random: Random): ArgGenerators {
  const hex = (length: number) => Array.from({ length }, () => random.pick([..."0123456789abcdef"])).join("");
  const ip = () =>
    random.chance(0.8)
      ? `${target.subnet}.${random.int(1, 254)}`
      : random.pick([`${target.subnet}.999`, `${target.subnet}`, "127.x.0.1", "not-an-ip", "", "127..0.1", `${target.subnet}.1.2`, "%zz", `::FFFF:${target.subnet}.2`, "::1", "fe80::1%lo", "::", "[::1]"]);
  const port = () => (random.chance(0.7) ? String(random.pick([...target.ports, 9, 1])) : random.pick(["0", "65536", "-1", "abc", "99999999", "7495x", ""]));
  const text = () => {
    switch (random.int(0, 4)) {
      case 0:
        return "";
      case 1:
        return new TextDecoder().decode(random.bytes(random.int(1, 40)));
      case 2:
        return "x".repeat(random.int(1, 3000));
      default:
        return random.pick(["a", "holiday photos", "ünïcode", "a/b", "..", "%", "\u0000", "\r\n", "null", "{}", "[]", hex(40), String(random.int(-5, 1e6))]);
    }
  };
  // nodeId refuses what is not an address; the junk stands in for the id a confused client would send.
  const idOrJunk = (address: string) => {
    try {
      return nodeId(address);
    } catch {
      return hex(40);
    }
  };
  const scratch = target.scratchDir ?? "/nonexistent-p2p-fuzz";
  return {
    peerId: () => (random.chance(0.5) ? idOrJunk(`${ip()}:${port()}`) : random.pick([String(random.int(0, 999)), hex(random.int(1, 70)), "bad id!", "", "_-_"])),
    peer: () => {
      const host = `${target.subnet}.${random.int(1, 254)}`;
      const peerPort = String(random.pick(target.ports));
      const id = random.chance(0.8) ? nodeId(`${host}:${peerPort}`) : random.pick([hex(40), "", "XYZ"]);
      return `${PEER_MARK}${id} ${random.chance(0.9) ? host : ip()} ${random.chance(0.9) ? peerPort : port()}`;
    },
    nodeId: () => {
      const chosen = `${target.subnet}.${random.int(1, 254)}:${random.pick(target.ports)}`;
      return random.chance(0.6) ? nodeId(chosen) : random.pick([hex(40), hex(39), "", "XYZ", ringId("elsewhere")]);
    },
    ip,
    port,
    key: () => (random.chance(0.7) ? hex(40) : random.pick([hex(39), hex(41), "G".repeat(40), "", hex(40).toUpperCase()])),
    avoid: () => Array.from({ length: random.int(0, 40) }, () => (random.chance(0.8) ? `${ip()}:${port()}` : text())).join(","),
    fileId: () => (random.chance(0.7) ? hex(64) : random.pick([hex(63), "", "z".repeat(64)])),
    index: () => random.pick(["0", "1", String(random.int(0, 1e9)), "-1", "1.5", "1e3", "99999999999", ""]),
    text,
    number: () => random.pick(["1", "1000", "0", "-1", "1e999", "NaN", "9007199254740993", String(random.int(1, 1e9)), "abc"]),
    path: () => random.pick([`${scratch}/small.bin`, `${scratch}/missing-${random.int(0, 99)}`, scratch, `${scratch}/sub`, `${scratch}/na%20me`, `${scratch}/\u0001`]),
    name: () => random.pick(["small.bin", "a", "..", "a/b", "\u0000", "x".repeat(300), "ünïcode.txt", "small.bin@abc", "@", "", text()]),
    outPath: () => `${scratch}/out-${random.int(0, 20)}`,
    flag: () => random.pick(["force", "", "no", text()]),
  };
}

type BodyGenerators = Record<"records" | "handover", (random: Random, target: FuzzTarget) => string | Uint8Array>;

const BODIES: BodyGenerators = {
  records: (random) => {
    const entry = () => ({
      key: random.chance(0.8) ? ringId(String(random.int(0, 1e6))) : random.pick([null, 5, "xyz"]),
      member: random.pick(["m", "x".repeat(random.int(0, 1100)), 5, null]),
      value: random.pick(["v", "{}", 7, null]),
      updatedAt: random.pick([Date.now(), -1, 1.5, "now", 2 ** 60]),
      expiresAt: random.pick([null, Date.now() + 60_000, "soon", Date.now() - 1]),
      deleted: random.pick([false, true, "no", 0]),
    });
    return pickBody(random, () => JSON.stringify(Array.from({ length: random.int(0, 20) }, entry)));
  },
  handover: (random, target) => {
    const peer = () => {
      const address = `${target.subnet}.${random.int(1, 254)}:${random.pick(target.ports)}`;
      return random.pick([{ id: nodeId(address), address }, { id: "x", address }, { address }, null, 5, "peer", [], { id: nodeId(address), address: "%%" }]);
    };
    return pickBody(random, () =>
      JSON.stringify(random.pick([{ predecessor: peer(), successors: [peer(), peer()] }, { predecessor: peer() }, { successors: peer() }, { successors: Array.from({ length: 70 }, peer) }])),
    );
  },
};

function pickBody(random: Random, shaped: () => string): string | Uint8Array {
  switch (random.int(0, 6)) {
    case 0:
      return random.pick(["null", "5", '"text"', "[]", "{}", "true", "[null]", "[[]]", '{"predecessor":{}}']);
    case 1:
      return random.bytes(random.int(0, 300));
    case 2:
      return "[".repeat(random.int(1, 20_000));
    case 3:
      return shaped().slice(0, random.int(0, 200));
    default:
      return shaped();
  }
}

/** Loopback only, even as data; no LEAVE to the control socket; every path inside the scratch dir. */
export function isSafe(bytes: Uint8Array, target: FuzzTarget): boolean {
  const text = new TextDecoder("latin1").decode(bytes);
  let decoded = text;
  try {
    decoded = decodeURIComponent(text);
  } catch {
    decoded = text.replace(/%[0-9a-fA-F]{2}/g, (escape) => String.fromCharCode(parseInt(escape.slice(1), 16)));
  }
  for (const candidate of [text, decoded]) {
    for (const match of candidate.matchAll(/\d{1,3}(?:\.\d{1,3}){3}/g)) {
      if (!match[0].startsWith("127.")) return false;
    }
    // Nothing that parses as IPv6 (which could name a non-loopback host).
    for (const token of candidate.split(/[\s,"\[\]{}]+/)) {
      const host = token.replace(/:\d+$/, "");
      if (isIP(host) === 6 || (host.includes("::") && host.length > 1)) return false;
    }
  }
  if (target.kind === "control") {
    const opName = decoded.split(/[ \r\n]/)[0]!.toUpperCase();
    if (opName === "LEAVE") return false;
    for (const path of decoded.matchAll(/(?:^|\s)(\/[^\s]*)/g)) {
      if (!target.scratchDir || !path[1]!.startsWith(`${target.scratchDir}`) || path[1]!.includes("..")) return false;
    }
  }
  return true;
}

function isValidUtf8(bytes: Uint8Array): boolean {
  try {
    new TextDecoder("utf-8", { fatal: true }).decode(bytes);
    return true;
  } catch {
    return false;
  }
}

export function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}
