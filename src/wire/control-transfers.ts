// Control ops for links and background transfers (issue 20): LINK, START, PAUSE, RESUME, CLEAR; the rest of the control link is in control.ts.

import { CONTROL, type DownloadArgs, TRANSFER_SHAPE, type TransferEntry, jsonReply } from "./control";
import { NO_ARGS, defineOp } from "./op";

/** The LINK reply: the link, and its parts as the node filled them in. */
export interface LinkReport {
  link: string;
  name: string;
  id: string;
  size: number;
  folder: boolean;
  via: string[];
  dns: string[];
}

const LINK_SHAPE = { link: "string", name: "string", id: "string", size: "number", folder: "boolean", via: "string[]", dns: "string[]" } as const;

const refArg = {
  minArgs: 1,
  maxArgs: 1,
  encodeArgs: (ref: string) => ({ args: [ref] }),
  decodeArgs: (args: readonly string[]) => args[0]!,
};

export const TRANSFER_CONTROL = {
  /** A link to what `name` or `name@id` names: its id, name, size, a few holders and the DNS. */
  LINK: defineOp<string, LinkReport>({ name: "LINK", usage: "LINK <name[@id]>", ...refArg, ...jsonReply<LinkReport>("LINK", LINK_SHAPE) }),

  /** DOWNLOAD in the background: the reply comes as soon as the transfer is registered (queued or under way). */
  START: defineOp<DownloadArgs, TransferEntry>({
    name: "START",
    usage: "START <name[@id] or link> [<out path>] [force] [noshare]",
    minArgs: 1,
    maxArgs: 4,
    encodeArgs: (args) => CONTROL.DOWNLOAD.encodeArgs(args),
    decodeArgs: (args, body) => CONTROL.DOWNLOAD.decodeArgs(args, body),
    ...jsonReply<TransferEntry>("START", TRANSFER_SHAPE),
  }),

  /** Pauses a transfer (by name or id prefix): it stops fetching, keeps its verified chunks and its place. */
  PAUSE: defineOp<string, TransferEntry>({ name: "PAUSE", usage: "PAUSE <name or id>", ...refArg, ...jsonReply<TransferEntry>("PAUSE", TRANSFER_SHAPE) }),

  /** Resumes a paused transfer: it queues for a turn and goes on from its verified chunks. */
  RESUME: defineOp<string, TransferEntry>({ name: "RESUME", usage: "RESUME <name or id>", ...refArg, ...jsonReply<TransferEntry>("RESUME", TRANSFER_SHAPE) }),

  /** Forgets the ended transfers (done, failed, cancelled, stopped); replies with how many rows went. */
  CLEAR: defineOp<void, { cleared: number }>({ name: "CLEAR", usage: "CLEAR", ...NO_ARGS, ...jsonReply<{ cleared: number }>("CLEAR", { cleared: "number" }) }),
};
