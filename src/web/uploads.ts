// What the page uploads: a file, or a folder one file at a time, stored in <dataDir>/uploads/ and shared by the UPLOAD op the CLI uses.

import { existsSync, mkdirSync, renameSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { P2PError } from "../protocol/errors";
import { MAX_FOLDER_ENTRIES, checkFolderPath } from "../model/folder";
import { checkShareName } from "../model/share-name";
import type { OpCaller } from "./actions";

/** Where a folder's files wait until the page says the folder is complete: hidden, so never shared half-sent. */
const INCOMING = ".incoming";
/** Folders being sent at once whose file counts are kept; past it the oldest is forgotten (its files stay until it is sent again). */
const MAX_FOLDERS_INCOMING = 64;

export interface Uploads {
  /** `POST /api/upload?name=<file>`: one file, shared at once. */
  file(name: string | null, body: ReadableStream<Uint8Array> | null): Promise<string>;
  /** `POST /api/upload?folder=<name>&path=<rel/path>[&first=1]`: one file of a folder, kept aside until `shareFolder`. */
  folderFile(folder: string | null, path: string | null, first: boolean, body: ReadableStream<Uint8Array> | null): Promise<string>;
  /** `POST /api/upload-folder?name=<name>`: the folder's files are all in: it moves into uploads/ and is shared as one folder. */
  shareFolder(folder: string | null): Promise<string>;
}

export function pageUploads(uploads: string, caller: OpCaller): Uploads {
  const incoming = join(uploads, INCOMING);
  // What a page left half-sent before the node last stopped is never shared: it goes.
  rmSync(incoming, { recursive: true, force: true });
  const fileCounts = new Map<string, number>();
  return {
    async file(name, body) {
      const path = join(uploads, pageName(name, "file"));
      if (existsSync(path)) throw new P2PError("CONFLICT", `${name} was already uploaded; rename the file or unshare the old one`);
      mkdirSync(uploads, { recursive: true, mode: 0o700 });
      await Bun.write(path, new Response(body));
      return caller.share(path);
    },

    async folderFile(folder, path, first, body) {
      const name = pageName(folder, "folder");
      const relative = checkFolderPath(path);
      // A first file starts the folder over: what an earlier, broken-off drop of this name left is dropped.
      if (first) {
        alreadyUploaded(uploads, name);
        rmSync(join(incoming, name), { recursive: true, force: true });
        fileCounts.delete(name);
        fileCounts.set(name, 0);
        if (fileCounts.size > MAX_FOLDERS_INCOMING) fileCounts.delete(fileCounts.keys().next().value!);
      }
      const count = (fileCounts.get(name) ?? 0) + 1;
      if (count > MAX_FOLDER_ENTRIES) throw new P2PError("MALFORMED", `a folder may hold at most ${MAX_FOLDER_ENTRIES} files`);
      fileCounts.set(name, count);
      const target = join(incoming, name, relative);
      mkdirSync(dirname(target), { recursive: true, mode: 0o700 });
      await Bun.write(target, new Response(body));
      return JSON.stringify({ stored: relative });
    },

    async shareFolder(folder) {
      const name = pageName(folder, "folder");
      const source = join(incoming, name);
      fileCounts.delete(name);
      if (!existsSync(source)) throw new P2PError("NOT_FOUND", `no file of folder ${name} was uploaded; drop the folder again`);
      alreadyUploaded(uploads, name);
      const path = join(uploads, name);
      renameSync(source, path);
      return caller.share(path);
    },
  };
}

/** A name the page gives is a share name, and not a hidden one (uploads/.incoming is the page's own). */
function pageName(name: string | null, what: string): string {
  if (!name || name.startsWith(".")) throw new P2PError("MALFORMED", `invalid ${what} name '${(name ?? "").slice(0, 80)}'`);
  try {
    return checkShareName(name);
  } catch (error) {
    throw new P2PError("MALFORMED", `invalid ${what} name: ${(error as Error).message}`);
  }
}

function alreadyUploaded(uploads: string, name: string): void {
  if (existsSync(join(uploads, name))) throw new P2PError("CONFLICT", `${name} was already uploaded; rename the folder or unshare the old one`);
}
