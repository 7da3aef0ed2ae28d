// The files link's ops: every request and reply survives encode then decode, binary bodies keep their layout, bad input is refused.

import { describe, expect, test } from "bun:test";
import { type FolderManifest, MAX_FOLDER_DEPTH, folderIdOf } from "../../src/model/folder";
import { fileIdOf, sha256Hex, type Manifest } from "../../src/model/manifest";
import { Bitfield } from "../../src/model/bitfield";
import { ringId } from "../../src/model/id";
import { peerAt } from "../../src/model/peer";
import { FILES, haveFromWire, haveToWire, type ListStep, MAX_LIST_CHILDREN } from "../../src/wire/files";
import { type OpDef, replyBody } from "../../src/wire/op";
import { requestRoundTrip, replyRoundTrip as sharedReplyRoundTrip } from "./round-trip";

const FROM = "127.0.0.9:7495";

const replyRoundTrip = <A, R>(op: OpDef<A, R>, result: R, args: A): R => sharedReplyRoundTrip(op, result, args, FROM);

const chunks = [sha256Hex(new Uint8Array([1])), sha256Hex(new Uint8Array([2])), sha256Hex(new Uint8Array([3]))];
const manifest: Manifest = { fileId: fileIdOf(chunks), size: 2 * 1024 + 10, chunkSize: 1024, chunks };

describe("the files link", () => {
  test("GET_MANIFEST round-trips a manifest and refuses one that does not match the file id asked for", () => {
    expect(requestRoundTrip(FILES.GET_MANIFEST, manifest.fileId)).toBe(manifest.fileId);
    expect(replyRoundTrip(FILES.GET_MANIFEST, manifest, manifest.fileId)).toEqual(manifest);
    expect(() => replyRoundTrip(FILES.GET_MANIFEST, manifest, "0".repeat(64))).toThrow(/does not match the file id/);
    expect(() => FILES.GET_MANIFEST.decodeArgs(["xyz"], new Uint8Array())).toThrow(/expected 64 hex digits/);
  });

  test("GET_FOLDER round-trips a folder manifest and refuses one whose hash or paths are wrong", () => {
    const folder: FolderManifest = { entries: [{ path: "a b/c.txt", size: 3, fileId: manifest.fileId }, { path: "empty", size: 0, fileId: manifest.fileId }] };
    const folderId = folderIdOf(folder);
    expect(requestRoundTrip(FILES.GET_FOLDER, folderId)).toBe(folderId);
    expect(replyRoundTrip(FILES.GET_FOLDER, folder, folderId)).toEqual(folder);
    expect(() => replyRoundTrip(FILES.GET_FOLDER, folder, "0".repeat(64))).toThrow(/does not hash to/);
    const hostile = (path: string) => {
      const bad = { entries: [{ path, size: 1, fileId: manifest.fileId }] };
      return () => replyRoundTrip(FILES.GET_FOLDER, bad, folderIdOf(bad));
    };
    expect(hostile("../up")).toThrow(/climbs out with '..'/);
    expect(hostile("a/../../up")).toThrow(/climbs out with '..'/);
    expect(hostile("/etc/passwd")).toThrow(/is absolute/);
    expect(hostile("C:/x")).toThrow(/is absolute/);
    expect(hostile("a\u0007b")).toThrow(/control characters/);
    expect(hostile("a//b")).toThrow(/cannot be empty/);
    expect(hostile("a\\..\\b")).toThrow(/refused/);
    expect(hostile(Array(MAX_FOLDER_DEPTH + 1).fill("d").join("/"))).toThrow(/deeper than/);
    const twice = { entries: [{ path: "x", size: 1, fileId: manifest.fileId }, { path: "x/y", size: 1, fileId: manifest.fileId }] };
    expect(() => replyRoundTrip(FILES.GET_FOLDER, twice, folderIdOf(twice))).toThrow(/inside a file of the same folder/);
  });

  test("GET_CHUNK round-trips its file id and index, and the chunk's bytes untouched", () => {
    expect(FILES.GET_CHUNK.encodeArgs({ fileId: manifest.fileId, index: 7 }).args).toEqual([manifest.fileId, "7"]);
    expect(requestRoundTrip(FILES.GET_CHUNK, { fileId: manifest.fileId, index: 7 })).toEqual({ fileId: manifest.fileId, index: 7 });
    const bytes = new Uint8Array([0, 13, 10, 255]);
    expect(replyRoundTrip(FILES.GET_CHUNK, bytes, { fileId: manifest.fileId, index: 0 })).toEqual(bytes);
    expect(() => FILES.GET_CHUNK.decodeArgs([manifest.fileId, "-1"], new Uint8Array())).toThrow(/invalid chunk index/);
  });

  test("GET_ANY_CHUNK round-trips the wanted bits as its body and the chosen chunk as index then bytes", () => {
    const wanted = new Bitfield(3);
    wanted.set(2);
    const sent = FILES.GET_ANY_CHUNK.encodeArgs({ fileId: manifest.fileId, wanted: wanted.bytes });
    expect(sent).toEqual({ args: [manifest.fileId], body: wanted.bytes });
    expect(requestRoundTrip(FILES.GET_ANY_CHUNK, { fileId: manifest.fileId, wanted: wanted.bytes })).toEqual({ fileId: manifest.fileId, wanted: wanted.bytes });
    const chosen = { index: 2, bytes: new Uint8Array([9, 8, 7]) };
    const body = replyBody(FILES.GET_ANY_CHUNK.encodeReply(chosen));
    expect([...body]).toEqual([0, 0, 0, 2, 9, 8, 7]);
    expect(FILES.GET_ANY_CHUNK.decodeReply(body, FROM, { fileId: manifest.fileId, wanted: wanted.bytes })).toEqual(chosen);
    expect(() => FILES.GET_ANY_CHUNK.decodeReply(new Uint8Array(2), FROM, { fileId: manifest.fileId, wanted: wanted.bytes })).toThrow(/without a chunk index/);
  });

  test("GET_HAVE round-trips its version, a partial holder's bits and a complete holder's flag", () => {
    expect(requestRoundTrip(FILES.GET_HAVE, { fileId: manifest.fileId, knownVersion: null })).toEqual({ fileId: manifest.fileId, knownVersion: null });
    expect(requestRoundTrip(FILES.GET_HAVE, { fileId: manifest.fileId, knownVersion: 12 })).toEqual({ fileId: manifest.fileId, knownVersion: 12 });
    const have = new Bitfield(10);
    have.set(0);
    have.set(9);
    const args = { fileId: manifest.fileId, knownVersion: null };
    const partial = haveFromWire(replyRoundTrip(FILES.GET_HAVE, haveToWire({ version: 5, have }), args), 10);
    expect(partial?.version).toBe(5);
    expect([partial!.have!.has(0), partial!.have!.has(1), partial!.have!.has(9)]).toEqual([true, false, true]);
    expect(haveFromWire(replyRoundTrip(FILES.GET_HAVE, haveToWire({ version: 6, have: null }), args), 10)).toEqual({ version: 6, have: null });
    expect([...replyBody(FILES.GET_HAVE.encodeReply(haveToWire({ version: 6, have: null })))]).toEqual([0, 0, 0, 6, 1]);
    // A bitfield for another number of chunks is not read as this file's.
    expect(haveFromWire(replyRoundTrip(FILES.GET_HAVE, haveToWire({ version: 5, have }), args), 30)).toBeNull();
    expect(() => FILES.GET_HAVE.decodeReply(new Uint8Array(3), FROM, args)).toThrow(/GET_HAVE/);
  });

  test("LIST_ALL_FILES round-trips its limit and cursor and a page with its children and next cursor", () => {
    const limit = ringId("somewhere");
    const after = `${ringId("name:a")}/abc@127.0.0.2:7495`;
    expect(requestRoundTrip(FILES.LIST_ALL_FILES, { limit, after: null })).toEqual({ limit, after: null });
    expect(requestRoundTrip(FILES.LIST_ALL_FILES, { limit, after })).toEqual({ limit, after });
    const step: ListStep = {
      files: [{ key: ringId("name:a"), member: "m", value: "{}", updatedAt: 1, expiresAt: null, deleted: false }],
      children: [peerAt("127.0.0.3:7495")],
      next: after,
    };
    expect(replyRoundTrip(FILES.LIST_ALL_FILES, step, { limit, after: null })).toEqual(step);
    expect(() => FILES.LIST_ALL_FILES.decodeArgs([limit, "no-cursor"], new Uint8Array())).toThrow(/cursor/);
    expect(() => FILES.LIST_ALL_FILES.decodeReply(new TextEncoder().encode("{}"), FROM, { limit, after: null })).toThrow(/not a list step/);
  });

  test("a LIST_ALL_FILES page is checked field by field: a bad entry, a peer whose id is not its address's, a cursor that is not text, or too many peers are refused", () => {
    const args = { limit: ringId("somewhere"), after: null };
    const good = { key: ringId("name:a"), member: "m", value: "{}", updatedAt: 1, expiresAt: null, deleted: false };
    const reply = (step: unknown) => () => FILES.LIST_ALL_FILES.decodeReply(new TextEncoder().encode(JSON.stringify(step)), FROM, args);
    expect(reply({ files: [{ ...good, updatedAt: "soon" }], children: [] })).toThrow(/record 0 is not a valid entry/);
    expect(reply({ files: [{ ...good, signature: "s".repeat(200) }], children: [] })).toThrow(/record 0/);
    expect(reply({ files: [], children: [{ id: ringId("elsewhere"), address: "127.0.0.3:7495" }] })).toThrow(/is not the id of/);
    expect(reply({ files: [], children: [], next: 42 })).toThrow(/cursor/);
    expect(reply({ files: [], children: Array.from({ length: MAX_LIST_CHILDREN + 1 }, () => peerAt("127.0.0.3:7495")) })).toThrow(/peers, at most/);
    expect(reply({ files: "everything", children: [] })).toThrow(/not a list step/);
    expect(() => FILES.LIST_ALL_FILES.decodeReply(new TextEncoder().encode("{not json"), FROM, args)).toThrow(/not valid JSON/);
  });
});
