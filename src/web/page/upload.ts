// The page's uploads: a file, or a folder (dropped or picked) sent one file at a time, then shared by the node as one folder.

/** Entries (files and folders) one folder may hold before the page gives up on it: the node's MAX_FOLDER_ENTRIES, and its folders. */
const MAX_FOLDER_ENTRIES = 20_000;

type Say = (message: string) => void;
type FolderFile = { path: string; file: File };

export async function uploadFile(file: File, say: Say): Promise<void> {
  say(`uploading ${file.name}…`);
  const response = await fetch(`/api/upload?name=${encodeURIComponent(file.name)}`, { method: "POST", body: file });
  const reply = await response.json();
  say(response.ok ? `shared ${reply.name}` : (reply.error?.message ?? "upload failed"));
}

/** What a drop carries, file or folder tree. Its entries must be taken during the drop event: they are gone once it returns. */
export function uploadDropped(transfer: DataTransfer, say: Say): void {
  const entries = [...transfer.items].map((item) => item.webkitGetAsEntry()).filter((entry) => entry !== null);
  if (entries.length === 0) {
    for (const file of transfer.files) void uploadFile(file, say);
    return;
  }
  for (const entry of entries) {
    if (entry.isDirectory) {
      void readFolder(entry as FileSystemDirectoryEntry)
        .then((files) => uploadFolder(entry.name, files, say))
        .catch((error: Error) => say(`could not read the folder ${entry.name}: ${error.message}`));
    } else {
      void fileOf(entry as FileSystemFileEntry)
        .then((file) => uploadFile(file, say))
        .catch((error: Error) => say(`could not read ${entry.name}: ${error.message}`));
    }
  }
}

/** A folder picked with `<input webkitdirectory>`: every file names its path from the folder picked. */
export function uploadPicked(files: FileList, say: Say): void {
  const folders = new Map<string, FolderFile[]>();
  for (const file of files) {
    const [folder, ...rest] = file.webkitRelativePath.split("/");
    if (!folder || rest.length === 0) continue;
    folders.set(folder, [...(folders.get(folder) ?? []), { path: rest.join("/"), file }]);
  }
  for (const [folder, entries] of folders) void uploadFolder(folder, entries, say);
}

async function uploadFolder(name: string, files: FolderFile[], say: Say): Promise<void> {
  if (files.length === 0) return say(`the folder ${name} holds no file: nothing to share`);
  const folder = encodeURIComponent(name);
  for (const [index, { path, file }] of files.entries()) {
    say(`uploading ${name}/ (${index + 1} of ${files.length} files)…`);
    // The first file tells the node to start this folder afresh.
    const response = await fetch(`/api/upload?folder=${folder}&path=${encodeURIComponent(path)}${index === 0 ? "&first=1" : ""}`, { method: "POST", body: file });
    if (!response.ok) return say((await response.json()).error?.message ?? `the upload of ${name}/${path} failed`);
  }
  const response = await fetch(`/api/upload-folder?name=${folder}`, { method: "POST" });
  const reply = await response.json();
  say(response.ok ? `shared folder ${reply.name}/ (${reply.files} files)` : (reply.error?.message ?? `sharing ${name}/ failed`));
}

/** Every file under `root`, with its path inside it; readEntries answers in batches until an empty one. */
async function readFolder(root: FileSystemDirectoryEntry): Promise<FolderFile[]> {
  const files: FolderFile[] = [];
  const pending: FileSystemDirectoryEntry[] = [root];
  let seen = 0;
  while (pending.length > 0) {
    const reader = pending.shift()!.createReader();
    for (;;) {
      const batch = await new Promise<FileSystemEntry[]>((resolve, reject) => reader.readEntries(resolve, reject));
      if (batch.length === 0) break;
      seen += batch.length;
      if (seen > MAX_FOLDER_ENTRIES) throw new Error(`it holds over ${MAX_FOLDER_ENTRIES} entries`);
      for (const entry of batch) {
        if (entry.isDirectory) pending.push(entry as FileSystemDirectoryEntry);
        else files.push({ path: entry.fullPath.slice(root.fullPath.length + 1), file: await fileOf(entry as FileSystemFileEntry) });
      }
    }
  }
  return files;
}

function fileOf(entry: FileSystemFileEntry): Promise<File> {
  return new Promise((resolve, reject) => entry.file(resolve, reject));
}
