// How partly refused record batches are logged: unheld keys are normal while the ring changes, and a warning only when they go on.

import { describe, expect, test } from "bun:test";
import { RefusalLog, UNHELD_REFUSAL_GRACE_MS } from "../../../src/node/ring/admission";
import { fakeClock } from "./parts";

function setup() {
  const clock = fakeClock();
  const warnings: string[] = [];
  const debugs: string[] = [];
  const refusals = new RefusalLog((message) => warnings.push(message), (message) => debugs.push(message), clock.now);
  return { clock, warnings, debugs, refusals };
}

describe("RefusalLog", () => {
  test("records refused for keys this node does not hold are debug lines while the refusals are fresh", () => {
    const { refusals, warnings, debugs, clock } = setup();
    refusals.note("refused 4 of 6 records: record 0 is for key 12d8", true);
    clock.advance(UNHELD_REFUSAL_GRACE_MS / 2);
    refusals.note("refused 1 of 2 records: record 1 is for key 55aa", true);
    expect(warnings).toEqual([]);
    expect(debugs).toHaveLength(2);
  });

  test("refusals of unheld keys that go on past the grace are a warning, at most once a minute", () => {
    const { refusals, warnings, clock } = setup();
    for (let second = 0; second <= 100; second++) {
      refusals.note(`refused 1 of 2 records: second ${second}`, true);
      clock.advance(1_000);
    }
    // At 30 s, then 60 s later.
    expect(warnings).toHaveLength(2);
    expect(warnings[0]).toContain("have kept arriving for 30 s");
  });

  test("any other refusal (a record that never expires, say) is a warning at once", () => {
    const { refusals, warnings } = setup();
    refusals.note("refused 1 of 3 records: record 2 never expires", false);
    expect(warnings).toEqual(["refused 1 of 3 records: record 2 never expires"]);
  });
});
