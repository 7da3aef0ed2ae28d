// The Bun socket handlers of every listener and connector: each event goes to the connection that owns the socket.

import type { Socket } from "bun";
import type { FramedConnection } from "./connection";

/** The socket handlers every listener and connector shares: each forwards to the connection in `socket.data`. */
export function connectionHandlers<Head>() {
  return {
    data(socket: Socket<FramedConnection<Head>>, chunk: Uint8Array) {
      socket.data?.onData(chunk);
    },
    drain(socket: Socket<FramedConnection<Head>>) {
      socket.data?.onDrain();
    },
    timeout(socket: Socket<FramedConnection<Head>>) {
      socket.data?.onTimeout();
    },
    close(socket: Socket<FramedConnection<Head>>, error?: Error) {
      socket.data?.onClose(error);
    },
    error(socket: Socket<FramedConnection<Head>>, error: Error) {
      socket.data?.onClose(error);
    },
  };
}
