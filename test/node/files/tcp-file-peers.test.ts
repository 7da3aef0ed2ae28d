// Which connections a download's requests take: its own set, closed when it ends, or a set its caller owns (a folder's files share one).

import { describe, expect, test } from "bun:test";
import { downloadPeers } from "../../../src/node/files/download-peers";
import type { FileLinks } from "../../../src/node/files/ports";
import { tcpFileLinks } from "../../../src/node/files/tcp-file-peers";
import type { TcpTransport } from "../../../src/node/tcp-transport";

function recordingTransport() {
  const streams: Array<string | undefined> = [];
  const closed: string[] = [];
  const transport = {
    send: async (_address: string, _op: unknown, _args: unknown, options: { stream?: string }) => {
      streams.push(options.stream);
      return new Uint8Array(4);
    },
    closeStream: (stream: string) => closed.push(stream),
  } as unknown as TcpTransport;
  return { links: tcpFileLinks(transport), streams, closed };
}

const local = { chunk: async () => new Uint8Array(0), chosenChunk: async () => ({ index: 0, bytes: new Uint8Array(0) }), have: async () => ({ version: 0, have: null }) };
const peersFor = (links: FileLinks, stream?: string) =>
  downloadPeers({ fileId: "a".repeat(64), chunkCount: 4, selfAddress: "127.0.0.2:7495", links, holders: async () => [], local, ...(stream ? { stream } : {}) });

describe("downloadPeers over tcpFileLinks", () => {
  test("each download asks over connections of its own and closes them when it ends", async () => {
    const { links, streams, closed } = recordingTransport();
    const first = peersFor(links);
    const second = peersFor(links);
    await first.chunk("127.0.0.3:7495", 0);
    await second.chunk("127.0.0.3:7495", 1);
    expect(streams[0]).toBeString();
    expect(streams[1]).toBeString();
    expect(streams[0]).not.toBe(streams[1]);
    first.close?.();
    expect(closed).toEqual([streams[0]!]);
  });

  test("downloads given their caller's stream share it and leave it open: the caller closes it once", async () => {
    const { links, streams, closed } = recordingTransport();
    const folderStream = links.newStream();
    for (let file = 0; file < 3; file++) {
      const peers = peersFor(links, folderStream);
      await peers.chunk("127.0.0.3:7495", file);
      peers.close?.();
    }
    expect(streams).toEqual([folderStream, folderStream, folderStream]);
    expect(closed).toEqual([]);
  });

  test("this node's own chunks are answered in process, with no request sent", async () => {
    const { links, streams } = recordingTransport();
    const bytes = await peersFor(links).chunk("127.0.0.2:7495", 0);
    expect(bytes.length).toBe(0);
    expect(streams).toEqual([]);
  });
});
