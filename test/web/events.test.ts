// The page's snapshots: every second while the node changes, slower once it is quiet, and at once after an action.

import { describe, expect, test } from "bun:test";
import type { OpCaller } from "../../src/web/actions";
import { PageEvents } from "../../src/web/events";
import { waitFor } from "../helpers/wait";

describe("the page's snapshots", () => {
  test("a quiet node is no longer re-read at the busy pace, and an action brings a snapshot at once", async () => {
    let snapshots = 0;
    let counter = 0;
    let changing = true;
    const caller: OpCaller = {
      call: async (op) => {
        if (op !== "STATUS") return op === "TRANSFERS" ? '{"downloads":[],"serving":[]}' : "[]";
        snapshots++;
        if (changing) counter++;
        // uptimeSeconds moves every time: it is no change of the node's.
        return JSON.stringify({ uptimeSeconds: snapshots, counter });
      },
      share: async () => "{}",
      close: () => {},
    };
    const warnings: string[] = [];
    const events = new PageEvents(caller, (message) => warnings.push(message), { busyMs: 20, quietMs: 60_000, quietAfterMs: 300 });
    const page = new AbortController();
    const reader = events.stream(page.signal).body!.getReader();
    try {
      await waitFor("snapshots at the busy pace while the node changes", () => snapshots >= 10, 10_000, 10);
      changing = false;
      // Quiet for 300 ms: the next snapshot is 60 s away, so the count stops.
      let last = -1;
      await waitFor("the snapshots to slow down once the node is quiet", async () => {
        const before = snapshots;
        await Bun.sleep(400);
        last = snapshots;
        return before === last;
      }, 10_000, 0);
      await Bun.sleep(300);
      expect(snapshots).toBe(last);

      events.refresh();
      await waitFor("a snapshot at once after an action", () => snapshots > last, 5_000, 10);
      const first = await reader.read();
      expect(new TextDecoder().decode(first.value)).toStartWith('data: {"time":');
      expect(warnings).toEqual([]);
    } finally {
      page.abort();
      await reader.cancel();
      events.close();
    }
  }, 30_000);
});
