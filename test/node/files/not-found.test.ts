// What a user is told when a name leads nowhere: close names only when they differ, and never the same name back.

import { describe, expect, test } from "bun:test";
import { notFound } from "../../../src/node/files/not-found";

const file = (name: string) => ({ name, size: 1, id: "a".repeat(64), holders: 1 });

describe("notFound", () => {
  test("a name the list shows but the ring cannot reach says so, instead of suggesting the same name back", async () => {
    const error = await notFound("from-pub1.bin", null, async () => [file("from-pub1.bin")]);
    expect(error.code).toBe("NOT_FOUND");
    expect(error.message).toContain("'from-pub1.bin' is listed, but its record is not reachable from this node");
    expect(error.message).not.toContain("did you mean");
  });

  test("a misspelt name is offered the close names the network holds", async () => {
    const error = await notFound("from-pub2.bin", null, async () => [file("from-pub1.bin"), file("unrelated.iso")]);
    expect(error.message).toBe("no file named 'from-pub2.bin' in the network; did you mean 'from-pub1.bin'?");
  });
});
