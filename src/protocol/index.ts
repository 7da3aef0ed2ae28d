// The wire protocol shared by all three links (client-node, node-node, node-DNS); it knows nothing of Chord.

export { P2PError, STATUS, isP2PError, statusName, type ErrorCode, type StatusName } from "./errors";
export { encodeArg, decodeArg } from "./escape";
export { decodeLines, encodeLines } from "./frame";
export * from "./limits";
export { connect, ProtocolClient, describeTarget, type ConnectTarget, type Response } from "./client";
export { serve, type OpTable, type OpSpec, type Handler, type Reply, type Request, type ProtocolServer } from "./server";
