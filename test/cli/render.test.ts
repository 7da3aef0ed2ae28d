// How the client draws progress: time left as 1m02s, sources in the right number, and no absurd rate after a resume.

import { describe, expect, test } from "bun:test";
import { describeSources } from "../../src/cli/client/files";
import { ProgressLine, formatDuration } from "../../src/cli/client/render";

const GiB = 1024 ** 3;

describe("the progress line", () => {
  test("time left reads like 45s, 1m02s and 2h05m", () => {
    expect(formatDuration(45)).toBe("45s");
    expect(formatDuration(62)).toBe("1m02s");
    expect(formatDuration(2 * 3600 + 5 * 60 + 7)).toBe("2h05m");
  });

  test("bytes resumed from disk never count as speed, and there is no rate until there is one", () => {
    const line = new ProgressLine(false);
    // The first event of a resumed download already reports 3 GiB done.
    expect(line.line("downloading", 3 * GiB, 4 * GiB, "", 0)).not.toMatch(/\/s|left/);
    const next = line.line("downloading", 3 * GiB + 100 * 1024, 4 * GiB, "", 1_000);
    expect(next).toMatch(/ 100 KiB\/s /);
    expect(next).not.toMatch(/GiB\/s/);
    const hashing = new ProgressLine(false);
    expect(hashing.line("hashing", 0, 10, "", 0)).toBe("hashing [------------------------]   0% 0 B/10 B");
  });

  test("sources are counted in the right number and named", () => {
    expect(describeSources({ sources: 1, addresses: ["127.0.0.2:7495"] })).toBe("from 1 source (127.0.0.2:7495)");
    expect(describeSources({ sources: 2, addresses: ["127.0.0.2:7495", "127.0.0.3:7495"] })).toBe("from 2 sources (127.0.0.2:7495, 127.0.0.3:7495)");
    expect(describeSources({ sources: 0, addresses: [] })).toBe("from 0 sources");
  });
});
