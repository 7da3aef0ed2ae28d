// How a node checks what a message claims about another peer: by asking that peer over its own connection.

import { ConnectBudget, hostOfAddress } from "../protocol/connect-budget";
import { isP2PError } from "../protocol/errors";
import type { PeerChecks } from "../wire/ring";
import { type Identity, loadIdentity } from "./identity";
import { admitScreened, RefusalLog } from "./ring/admission";
import { log } from "../log";
import type { RecordEntry } from "../model/record";
import type { Peer } from "../model/peer";
import type { RingTransport } from "../model/ring-transport";
import { admitEntries, checkingReads, HolderKeys, MAX_CLOCK_SKEW_MS } from "./signed-records";
import type { TcpTransport } from "./tcp-transport";

/** Refusals for a writer's clock are logged at most this often. */
const CLOCK_REFUSAL_WARNING_MS = 60_000;

/**
 * Claims checked with one call each to the peer named; any failure to answer counts as "not there".
 * Every call is paid from `budget`: whoever sends the claims, this node connects to one host only a few
 * times a second and on one requester's behalf only so often (src/protocol/connect-budget.ts).
 * Records are taken only for keys this node holds, or as tombstones of entries it stores (`holds`), with a bounded lifetime, and signed.
 */
export function peerChecks(
  transport: RingTransport,
  identity: Identity,
  keys: HolderKeys,
  warn: (message: string) => void,
  budget: ConnectBudget,
  holds: (entry: RecordEntry) => boolean = () => true,
): PeerChecks {
  let clockWarnedAt = -Infinity;
  const refusals = new RefusalLog(warn, (message) => log.debug(message));
  const ask = async (peer: Peer, requester: string, call: () => Promise<unknown>): Promise<boolean> => {
    let asked = false;
    try {
      await budget.spend(hostOfAddress(peer.address), requester, () => {
        asked = true;
        return call();
      });
      return true;
    } catch (error) {
      if (!isP2PError(error) || !asked) throw error;
      return false;
    }
  };
  return {
    publicKey: identity.publicKey,
    admit: async (entries) => {
      try {
        return await admitEntries(admitScreened(entries, holds, (message, onlyUnheld) => refusals.note(message, onlyUnheld)), keys, Date.now(), warn, (message) => log.debug(message));
      } catch (error) {
        // A writer whose clock runs ahead has every record refused: say so here too, not only to it.
        if (isP2PError(error) && /ahead of this node's clock/.test(error.message) && Date.now() - clockWarnedAt >= CLOCK_REFUSAL_WARNING_MS) {
          clockWarnedAt = Date.now();
          warn(`${error.message}: the writer's clock (or this node's) is off; the network tolerates ${MAX_CLOCK_SKEW_MS / 1000} s`);
        }
        throw error;
      }
    },
    answers: (peer, requester) => ask(peer, requester, () => transport.ping(peer)),
    hasLeft: async (peer, requester) => !(await ask(peer, requester, () => transport.getNeighbours(peer))),
  };
}

/** A node's trust machinery in one piece: its key pair, the holders' keys it learnt, checked reads, checked writes. */
export function nodeTrust(dataDir: string, self: { address: string }, transport: TcpTransport, warn: (message: string) => void, holds?: (entry: RecordEntry) => boolean) {
  const identity = loadIdentity(dataDir);
  const budget = new ConnectBudget();
  const keys = new HolderKeys(transport, { address: self.address, publicKey: identity.publicKey }, Date.now, budget);
  return {
    identity,
    /** The ring's transport, with GET_RECORDS answers checked. */
    ringTransport: checkingReads(transport, keys, Date.now),
    signEntry: identity.signEntry,
    /** Holders' keys, learnt from their own addresses and cached: for checking entries outside the ring's ops too (LIST_ALL_FILES pages). */
    keys,
    checks: peerChecks(transport, identity, keys, warn, budget, holds),
  };
}
