// Share links as text: what formatLink writes parses back to the same link, IPv6 holders included, and every other text is one clear error.

import { describe, expect, test } from "bun:test";
import { P2PError } from "../../src/protocol/errors";
import { type ShareLink, formatLink, parseLink } from "../../src/model/link";

const ID = "ab".repeat(32);
const sample: ShareLink = { folder: false, id: ID, name: "Ünïcödé report & notes (v2).pdf", size: 1234, via: ["127.0.0.2:7495", "[::1]:7495"], dns: ["127.0.0.1:7494"] };

describe("share links", () => {
  test("a link parses back to what was formatted, with names and IPv6 holders percent-encoded into shell-safe characters", () => {
    const text = formatLink(sample);
    expect(text).toBe(`p2p:file/${ID}/%C3%9Cn%C3%AFc%C3%B6d%C3%A9%20report%20%26%20notes%20%28v2%29.pdf/1234/127.0.0.2:7495,%5B::1%5D:7495/127.0.0.1:7494`);
    expect(text).toMatch(/^[A-Za-z0-9._:%,/-]+$/);
    expect(parseLink(text)).toEqual(sample);
    expect(parseLink(formatLink({ ...sample, folder: true, via: [], dns: [] }))).toEqual({ ...sample, folder: true, via: [], dns: [] });
  });

  test("a link with a wrong kind, id, size, name, holder or character is refused with what is wrong", () => {
    const cases: Array<[string, RegExp]> = [
      ["http://example", /does not start with 'p2p:'/],
      [`p2p:blob/${ID}/a/1//`, /'blob' is neither file nor folder/],
      [`p2p:file/${ID.toUpperCase()}/a/1//`, /is not 64 lowercase hex digits/],
      [`p2p:file/${ID}/a/-1//`, /the size '-1' is not a number of bytes/],
      [`p2p:file/${ID}/%2E%2E/1//`, /its name: a shared name cannot be '\.\.'/],
      [`p2p:file/${ID}/a b/1//`, /its name has a character a link never holds unencoded/],
      [`p2p:file/${ID}/%FF/1//`, /not valid percent-encoded UTF-8/],
      [`p2p:file/${ID}/a/1/999.1.1.1:7495/`, /invalid IP address/],
      [`p2p:file/${ID}/a/1/${Array(5).fill("127.0.0.2:1").join(",")}/`, /names 5 holders, more than 4/],
      [`p2p:file/${ID}/a/1//${"x".repeat(3000)}`, /over 2048 characters/],
    ];
    for (const [text, why] of cases) {
      let error: unknown = null;
      try {
        parseLink(text);
      } catch (caught) {
        error = caught;
      }
      expect(error).toBeInstanceOf(P2PError);
      expect((error as P2PError).code).toBe("MALFORMED");
      expect((error as Error).message).toMatch(why);
    }
  });
});
