// The page's script: renders each snapshot the node streams (/api/events) and sends actions to /api/op/<OP> (the control ops).

import { drawRing, estimateRingSize, type RingView } from "./ring";
import { drawChart, type Sample } from "./chart";
import { uploadDropped, uploadFile, uploadPicked } from "./upload";

type Transfer = { id: string; name: string; size: number; bytes: number; rate: number; etaSeconds: number | null; sources: string[]; state: string };
type Snapshot = {
  time: number;
  status: RingView & { privateNetwork?: boolean; dns: string; uptimeSeconds: number };
  transfers: { downloads: Transfer[]; serving: { id: string; name: string; requests: number; servedBytes: number }[] };
  shared: { name: string; id: string; size: number; servedBytes: number; folder?: boolean }[];
};
type FileSummary = { name: string; size: number; id: string; holders: number; partial?: number; partialHolders?: string[]; folder?: boolean };

const $ = <T extends Element>(selector: string) => document.querySelector(selector) as T;
/** Rate samples kept for the chart: five minutes of one a second. */
const MAX_SAMPLES = 300;
const samples: Sample[] = [];
let lastServed: { time: number; bytes: number } | null = null;

/** One control op through the node's whitelist; resolves to its JSON reply, or shows its error and rejects. */
async function op(name: string, ...args: string[]): Promise<unknown> {
  const response = await fetch(`/api/op/${name}`, { method: "POST", body: JSON.stringify({ args }), headers: { "content-type": "application/json" } });
  const reply = await response.json();
  if (!response.ok) {
    show(reply.error?.message ?? `${name} failed`);
    throw new Error(reply.error?.message);
  }
  show("");
  return reply;
}

function show(message: string): void {
  $("#message").textContent = message;
}

function cell(row: HTMLTableRowElement, ...contents: (string | Node)[]): HTMLTableCellElement {
  const td = row.insertCell();
  for (const content of contents) {
    if (typeof content === "string") td.append(document.createTextNode(content));
    else td.append(content);
  }
  return td;
}

function button(label: string, onClick: () => void): HTMLButtonElement {
  const element = document.createElement("button");
  element.textContent = label;
  element.addEventListener("click", onClick);
  return element;
}

function size(bytes: number): string {
  const units = ["B", "KB", "MB", "GB", "TB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return `${value.toFixed(unit === 0 ? 0 : 1)} ${units[unit]}`;
}

function bar(fraction: number): HTMLElement {
  const outer = document.createElement("div");
  outer.className = "bar";
  const inner = document.createElement("div");
  inner.style.width = `${Math.round(fraction * 100)}%`;
  outer.append(inner);
  outer.dataset.percent = String(Math.round(fraction * 100));
  return outer;
}

function renderFiles(files: FileSummary[]): void {
  const body = $<HTMLTableElement>("#files").tBodies[0]!;
  body.replaceChildren();
  // Several files of one name are choices: each row shows and downloads its own `name@id`.
  const names = new Map<string, number>();
  for (const file of files) names.set(file.name, (names.get(file.name) ?? 0) + 1);
  for (const file of files) {
    const row = body.insertRow();
    const choices = names.get(file.name)!;
    const label = file.folder ? `${file.name}/` : file.name;
    if (choices > 1) {
      row.className = "choice";
      const tag = document.createElement("span");
      tag.className = "choice-id";
      tag.textContent = `@${file.id.slice(0, 12)}`;
      cell(row, label, tag).title = `one of ${choices} files named ${file.name}: this one is ${file.name}@${file.id.slice(0, 12)}`;
    } else cell(row, label);
    cell(row, size(file.size));
    holdersCell(row, file);
    cell(row, file.id.slice(0, 12));
    cell(row, button("download", () => void op("DOWNLOAD", `${file.name}@${file.id}`)));
  }
  const ambiguous = [...names].filter(([, count]) => count > 1).map(([name, count]) => `${count} files are named ${name}`);
  $("#choices").textContent = ambiguous.length > 0 ? `${ambiguous.join("; ")}: each row is one choice (name@id).` : "";
}

/** "2", or "2 + 1 partial" with the partial holders' addresses: they are still downloading and serve what they verified. */
function holdersCell(row: HTMLTableRowElement, file: FileSummary): void {
  const td = cell(row, String(file.holders));
  td.className = "holders";
  if (!file.partial) return;
  const partial = document.createElement("span");
  partial.className = "partial";
  partial.textContent = ` + ${file.partial} partial`;
  td.append(partial);
  const which = file.partialHolders ?? [];
  const list = document.createElement("div");
  list.className = "partial-holders";
  list.textContent = which.join(", ") + (file.partial > which.length ? ", …" : "");
  td.append(list);
  td.title = `${file.holders} complete; partial (still downloading): ${which.join(", ")}`;
}

function renderTransfers(transfers: Snapshot["transfers"]): void {
  const body = $<HTMLTableElement>("#transfers").tBodies[0]!;
  body.replaceChildren();
  for (const transfer of transfers.downloads) {
    const row = body.insertRow();
    row.dataset.state = transfer.state;
    cell(row, `↓ ${transfer.name}`);
    cell(row, bar(transfer.size > 0 ? transfer.bytes / transfer.size : transfer.state === "done" ? 1 : 0));
    cell(row, transfer.state === "downloading" ? `${size(transfer.rate)}/s` : "");
    cell(row, transfer.etaSeconds === null || transfer.state !== "downloading" ? "" : `${Math.ceil(transfer.etaSeconds)} s`);
    cell(row, transfer.sources.join(", "));
    cell(row, transfer.state);
    cell(row, ...transferButtons(transfer));
  }
  for (const upload of transfers.serving) {
    const row = body.insertRow();
    cell(row, `↑ ${upload.name}`);
    cell(row, size(upload.servedBytes));
    for (const text of ["", "", `${upload.requests} requests`, "serving", ""]) cell(row, text);
  }
}

function renderShared(shared: Snapshot["shared"]): void {
  const body = $<HTMLTableElement>("#shared").tBodies[0]!;
  body.replaceChildren();
  for (const file of shared) {
    const row = body.insertRow();
    cell(row, file.folder ? `${file.name}/` : file.name);
    cell(row, size(file.size));
    cell(row, size(file.servedBytes));
    cell(row, button("unshare", () => void op("UNSHARE", `${file.name}@${file.id}`)));
  }
}

/** What each part was last drawn from: a part whose data did not change is not drawn again (a page open on a quiet node redraws nothing). */
const drawn = { status: "", transfers: "", shared: "" };
/** STATUS fields that move every snapshot and that the page does not show. */
const TICKING = new Set(["uptimeSeconds", "maintenanceMs", "clockSkewMs"]);

function render(snapshot: Snapshot): void {
  const { status } = snapshot;
  const statusKey = JSON.stringify(status, (field, value) => (TICKING.has(field) ? undefined : value));
  if (statusKey !== drawn.status) {
    drawn.status = statusKey;
    const count = drawRing($("#ring"), status);
    $("#ring-legend").textContent = `${count} nodes known; orange: this node, blue: predecessor, green: successors, grey: fingers; the arc is the keys it is primary for`;
    const network = status.privateNetwork ? "private network" : "open network";
    $("#status").textContent = `${status.address} · ring of ~${estimateRingSize(status)} · ${network} · DNS ${status.dns}`;
  }
  const transfersKey = JSON.stringify(snapshot.transfers);
  if (transfersKey !== drawn.transfers) {
    drawn.transfers = transfersKey;
    renderTransfers(snapshot.transfers);
  }
  const sharedKey = JSON.stringify(snapshot.shared);
  if (sharedKey !== drawn.shared) {
    drawn.shared = sharedKey;
    renderShared(snapshot.shared);
  }
  const down = snapshot.transfers.downloads.filter((t) => t.state === "downloading").reduce((sum, t) => sum + t.rate, 0);
  const served = snapshot.transfers.serving.reduce((sum, s) => sum + s.servedBytes, 0) + snapshot.shared.reduce((sum, s) => sum + s.servedBytes, 0);
  const up = lastServed && snapshot.time > lastServed.time ? Math.max(0, ((served - lastServed.bytes) * 1000) / (snapshot.time - lastServed.time)) : 0;
  lastServed = { time: snapshot.time, bytes: served };
  samples.push({ time: snapshot.time, down, up });
  if (samples.length > MAX_SAMPLES) samples.shift();
  drawChart($("#chart"), samples);
  $("#rates").textContent = `down ${size(down)}/s · up ${size(up)}/s`;
}

async function search(event?: Event): Promise<void> {
  event?.preventDefault();
  const term = $<HTMLInputElement>("#search").value.trim();
  renderFiles((await (term ? op("SEARCH", term) : op("LIST"))) as FileSummary[]);
}

/** A pasted `p2p:` link goes to the node as is: DOWNLOAD fetches it from the holders it names, with no search. */
async function downloadLink(event: Event): Promise<void> {
  event.preventDefault();
  const input = $<HTMLInputElement>("#link");
  const link = input.value.trim();
  if (!link) return show("paste a link first: p2p client link <name> on the node that shares it prints one");
  await op("DOWNLOAD", link);
  input.value = "";
}

function wireUp(): void {
  $("#search-form").addEventListener("submit", (event) => void search(event).catch(() => {}));
  $("#link-form").addEventListener("submit", (event) => void downloadLink(event).catch(() => {}));
  $<HTMLInputElement>("#file-input").addEventListener("change", (event) => {
    for (const file of (event.target as HTMLInputElement).files ?? []) void uploadFile(file, show);
  });
  $<HTMLInputElement>("#folder-input").addEventListener("change", (event) => uploadPicked((event.target as HTMLInputElement).files!, show));
  const drop = $<HTMLElement>("#drop");
  drop.addEventListener("dragover", (event) => {
    event.preventDefault();
    drop.classList.add("over");
  });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (event) => {
    event.preventDefault();
    drop.classList.remove("over");
    if (event.dataTransfer) uploadDropped(event.dataTransfer, show);
  });
  const events = new EventSource("/api/events");
  events.onmessage = (message) => render(JSON.parse(message.data) as Snapshot);
  events.onerror = () => {
    $("#status").textContent = "disconnected; retrying…";
    drawn.status = ""; // the next snapshot puts the status line back
  };
  void search().catch(() => {});
}

wireUp();

/** What a person may do to a download in its state: the same PAUSE, RESUME and CANCEL as `p2p client`. */
function transferButtons(transfer: { id: string; state: string }): (Node | string)[] {
  if (transfer.state === "downloading" || transfer.state === "queued") {
    return [button("pause", () => void op("PAUSE", transfer.id)), button("cancel", () => void op("CANCEL", transfer.id))];
  }
  if (transfer.state === "paused") return [button("resume", () => void op("RESUME", transfer.id)), button("cancel", () => void op("CANCEL", transfer.id))];
  return [""];
}
