// The local client's ops with this node's clock in mind: a write is refused while the clock is off, and a command that fails then says why.

import { P2PError, isP2PError } from "../protocol/errors";
import type { OpTable } from "../protocol/server";

/** Ops that write records: while the clock is off by more than the network tolerates, peers refuse them (ahead) or they expire early (behind). */
const WRITES = new Set(["UPLOAD", "PUT"]);
/** Ops whose failure this node's clock may explain: every one that reads or writes the ring's records. */
const CLOCKED = new Set(["UPLOAD", "PUT", "GET", "DOWNLOAD", "LIST", "SEARCH", "UNSHARE"]);

/** `ops` where UPLOAD and PUT fail at once with the clock's note, and every ring command that fails carries it too. */
export function withClockNote(ops: OpTable, watch: { note(): Promise<string | null> }): OpTable {
  const wrapped: OpTable = {};
  for (const [name, spec] of Object.entries(ops)) {
    if (!CLOCKED.has(name)) {
      wrapped[name] = spec;
      continue;
    }
    wrapped[name] = {
      ...spec,
      handle: async (request) => {
        if (WRITES.has(name)) {
          const note = await watch.note();
          if (note !== null) throw new P2PError("UNAVAILABLE", `nothing written: ${note}`);
        }
        try {
          return await spec.handle(request);
        } catch (error) {
          if (!isP2PError(error)) throw error;
          const note = await watch.note();
          if (note === null) throw error;
          throw new P2PError(error.code, `${error.message}; ${note}`);
        }
      },
    };
  }
  return wrapped;
}
