// The one way the demo and cluster scripts fail on purpose: a single line on stderr and a non-zero exit.

/** A failure the user can act on: its message is shown alone, without a stack trace. */
export class ScriptError extends Error {
  override name = "ScriptError";
}

/** First line of an error's message: child processes' logs can be long, the user needs the gist. */
export function oneLine(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  const lines = text.split("\n").map((line) => line.trim()).filter(Boolean);
  // A child's own "[error] ..." line says more than our "it exited" wrapper around it.
  const childError = lines.find((line) => /^(\[error\]|error:)/.test(line));
  const first = lines[0] ?? "unknown error";
  return childError && childError !== first ? `${first.replace(/:$/, "")}: ${childError.replace(/^(\[error\]|error:)\s*/, "")}` : first;
}

/** node:util parseArgs errors, shortened to what the user typed wrong. */
export function flagError(error: unknown): ScriptError {
  const message = error instanceof Error ? error.message : String(error);
  const unknown = /Unknown option '([^']+)'/.exec(message);
  if (unknown) return new ScriptError(`unknown flag ${unknown[1]} (see --help)`);
  return new ScriptError(`${message.split("\n")[0]!.replace(/\.$/, "")} (see --help)`);
}
