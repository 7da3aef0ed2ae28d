// Shared folders on disk: the bounded walk of a folder (its manifest and the checks on it are in src/model/folder.ts).

import { lstatSync, readdirSync, realpathSync } from "node:fs";
import { join, relative, sep } from "node:path";
import { P2PError } from "../../protocol/errors";
import { checkFolderPath, MAX_FOLDER_DEPTH, MAX_FOLDER_ENTRIES } from "../../model/folder";

/** The regular files under `root`, relative paths sorted; symlinks, special files and anything past the limits refused with a clear line. */
export function walkFolder(root: string): Array<{ path: string; absolute: string }> {
  const files: Array<{ path: string; absolute: string }> = [];
  const realRoot = realpathSync(root);
  const visit = (dir: string, depth: number) => {
    for (const name of readdirSync(dir).sort()) {
      const absolute = join(dir, name);
      const path = relative(root, absolute).split(sep).join("/");
      const stat = lstatSync(absolute);
      if (stat.isSymbolicLink()) {
        let target = "";
        try {
          target = realpathSync(absolute);
        } catch {
          target = "(missing)";
        }
        const leaves = target !== realRoot && !target.startsWith(realRoot + sep);
        throw new P2PError("MALFORMED", `${absolute} is a symbolic link${leaves ? " leading out of the folder" : ""}; folders with links are not shared`);
      }
      if (depth + 1 > MAX_FOLDER_DEPTH) throw new P2PError("MALFORMED", `${absolute} is deeper than ${MAX_FOLDER_DEPTH} levels inside the folder`);
      if (stat.isDirectory()) {
        visit(absolute, depth + 1);
        continue;
      }
      if (!stat.isFile()) throw new P2PError("MALFORMED", `${absolute} is not a regular file; refused`);
      checkFolderPath(path);
      files.push({ path, absolute });
      if (files.length > MAX_FOLDER_ENTRIES) throw new P2PError("MALFORMED", `${root} holds more than ${MAX_FOLDER_ENTRIES} files`);
    }
  };
  visit(root, 0);
  return files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}
