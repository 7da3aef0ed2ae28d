// `p2p completion bash|zsh|fish`: a shell completion script built from the command definitions themselves.

import { defineCommand } from "citty";
import { suggest, usage, optionsOf, resolveValue, subCommandsOf, type AnyCommand } from "./argv";
import { runCommand } from "./common";

export default defineCommand({
  meta: { name: "completion", description: "Print a shell completion script: eval \"$(p2p completion bash)\" (or zsh; fish: p2p completion fish | source)" },
  args: { shell: { type: "positional", description: "bash, zsh or fish", required: true } },
  run: ({ args }) =>
    runCommand({}, async () => {
      if (!SHELLS.includes(String(args.shell))) throw usage(`unknown shell '${String(args.shell).slice(0, 40)}': expected ${SHELLS.join(", ")}${suggest(String(args.shell), SHELLS, "")}`, ["completion"]);
      const { default: client } = await import("./client");
      const commands = await describe(client as AnyCommand, "client");
      const tops = ["dns", "node", "client", "keygen", "completion", "version"];
      const top: Record<string, string[]> = {
        dns: await flagsOf((await import("./dns")).default as AnyCommand),
        node: await flagsOf((await import("./node")).default as AnyCommand),
        keygen: await flagsOf((await import("./keygen")).default as AnyCommand),
      };
      process.stdout.write(script(String(args.shell), tops, top, commands));
    }),
});

const SHELLS = ["bash", "zsh", "fish"];

/** A command's option names, with `no-<name>` for a boolean that is on by default (`--no-share`), as its help lists them. */
async function flagsOf(command: AnyCommand): Promise<string[]> {
  const options = Object.entries(await optionsOf(command));
  return options.flatMap(([name, def]) => (def.type === "boolean" && def.default === true ? [name, `no-${name}`] : [name]));
}

type Described = { name: string; options: string[] }[];

async function describe(command: AnyCommand, name: string): Promise<Described> {
  const subCommands = (await subCommandsOf(command)) ?? {};
  const out: Described = [{ name, options: await flagsOf(command) }];
  for (const [sub, lazy] of Object.entries(subCommands)) {
    const resolved = (await resolveValue(lazy)) as AnyCommand;
    out.push({ name: sub, options: await flagsOf(resolved) });
  }
  return out;
}

// Node addresses are the directory names under $P2P_HOME that hold a node.sock.
const NODES_SH = `(for d in "\${P2P_HOME:-$HOME/.p2p}"/*/; do [ -S "$d/node.sock" ] && basename "$d"; done 2>/dev/null)`;

function script(shell: string, tops: string[], top: Record<string, string[]>, client: Described): string {
  const clientCommands = client.slice(1).map((entry) => entry.name);
  const clientOptions = [...new Set(client.flatMap((entry) => entry.options))].map((option) => `--${option}`);
  const optionsFor = (name: string) => (top[name] ?? []).map((option) => `--${option}`).join(" ");
  if (shell === "bash" || shell === "zsh") {
    const prefix = shell === "zsh" ? "autoload -U +X bashcompinit && bashcompinit\n" : "";
    return `${prefix}# p2p completion for ${shell}
_p2p() {
  local cur prev words
  cur="\${COMP_WORDS[COMP_CWORD]}"; prev="\${COMP_WORDS[COMP_CWORD-1]}"
  if [ "$prev" = "--node" ]; then COMPREPLY=( $(compgen -W "$${NODES_SH}" -- "$cur") ); return; fi
  if [ "$COMP_CWORD" -eq 1 ]; then COMPREPLY=( $(compgen -W "${tops.join(" ")} --help --version" -- "$cur") ); return; fi
  case "\${COMP_WORDS[1]}" in
    client) COMPREPLY=( $(compgen -W "${clientCommands.join(" ")} ${clientOptions.join(" ")} --help" -- "$cur") ) ;;
    dns) COMPREPLY=( $(compgen -W "${optionsFor("dns")} --help" -- "$cur") ) ;;
    node) COMPREPLY=( $(compgen -W "${optionsFor("node")} --help" -- "$cur") ) ;;
    keygen) COMPREPLY=( $(compgen -W "${optionsFor("keygen")} --help" -- "$cur") ) ;;
    completion) COMPREPLY=( $(compgen -W "bash zsh fish" -- "$cur") ) ;;
  esac
}
complete -o default -F _p2p p2p
`;
  }
  const lines = [
    "# p2p completion for fish",
    "complete -c p2p -f",
    `complete -c p2p -n __fish_use_subcommand -a '${tops.join(" ")}'`,
    `complete -c p2p -n '__fish_seen_subcommand_from client' -a '${clientCommands.join(" ")}'`,
    ...[...new Set(client.flatMap((entry) => entry.options))].map((option) => `complete -c p2p -n '__fish_seen_subcommand_from client' -l ${option}`),
    ...(["dns", "node", "keygen"] as const).flatMap((name) => (top[name] ?? []).map((option) => `complete -c p2p -n '__fish_seen_subcommand_from ${name}' -l ${option}`)),
    `complete -c p2p -n '__fish_seen_subcommand_from completion' -a 'bash zsh fish'`,
    `complete -c p2p -l node -x -a '(for s in (string replace -r "^\$" ~/.p2p -- "$P2P_HOME")/*/node.sock; basename (dirname $s); end)'`,
  ];
  return `${lines.join("\n")}\n`;
}
