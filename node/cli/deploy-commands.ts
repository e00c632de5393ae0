/** `clawgate tunnel print`, `clawgate edge keys` and `clawgate edge token NAME`: what connects the edge to this host. */
import { open } from "node:fs/promises";
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import { type Command, Option } from "commander";
import { resolveConfigPath } from "../config/config-file.ts";
import { expandHome } from "../config/home-path.ts";
import { generateCallerToken, generateEdgeKeyPair } from "../deploy/edge-credentials.ts";
import { buildTunnelConfig, defaultPathRegex } from "../deploy/tunnel-config.ts";
import { DEFAULT_HOOKS_PATH } from "../intake/hooks-policy.ts";
import { DEFAULT_NODE_PORT } from "../../shared/constants.ts";
import { CliError } from "./cli-error.ts";
import type { CliIo } from "./cli-io.ts";
import { configFlag, configOption } from "./cli-io.ts";
import { loadConfigLoosely } from "./service-commands.ts";

interface TunnelFlags {
  hostname: string;
  tunnel: string;
  credentialsFile?: string;
  accessTeam?: string;
  accessAud?: string[];
  port?: string;
  allPaths?: boolean;
  /** false with --no-access. */
  access: boolean;
}

interface KeysFlags {
  alg: "EdDSA" | "ES256";
  kid?: string;
  privateOut?: string;
  printPrivate?: boolean;
  json?: boolean;
}

interface TokenFlags {
  out?: string;
  json?: boolean;
}

/** One line each (docs/security.md, "Anyone reaching the tunnel hostname"). */
export const NO_ACCESS_TEXT = "tunnel print needs --access-team and --access-aud (Cloudflare Access in front of the node), or --no-access to print a config without it";
export const NO_ACCESS_WARNING = "clawgate: warning: --no-access: anyone who finds the tunnel hostname reaches the node's hooks path; only the node's own checks stand in the way\n";

function usage<T>(fn: () => T): T {
  try {
    return fn();
  } catch (error) {
    if (error instanceof TypeError) throw new CliError(error.message, { code: "ERR_CLI_USAGE" });
    throw error;
  }
}

/** Create `path` 0600 and write `data`; refuse to overwrite (an existing key file may be the only copy of a key). */
async function writeNewPrivateFile(path: string, data: string, flag: string): Promise<void> {
  let fh;
  try {
    fh = await open(path, "wx", 0o600);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new CliError(code === "EEXIST" ? `${flag} ${path} already exists; refusing to overwrite it` : `${flag} ${path}: cannot create (${code ?? "error"})`);
  }
  try {
    await fh.chmod(0o600);
    await fh.writeFile(data);
  } finally {
    await fh.close();
  }
}

export function registerDeployCommands(program: Command, io: CliIo): void {
  const tunnel = program.command("tunnel").description("the cloudflared tunnel that carries the edge's requests to this host");
  tunnel
    .command("print")
    .description("print a cloudflared config: the hooks path to http://127.0.0.1:<port>, everything else 404")
    .addOption(configOption())
    .requiredOption("--hostname <name>", "public hostname of the tunnel (the edge's node URL host)")
    .option("--tunnel <id>", "tunnel UUID or name (cloudflared tunnel create NAME)", "clawgate-node")
    .option("--credentials-file <path>", "the tunnel's credentials JSON (default: ~/.cloudflared/<tunnel>.json)")
    .option("--access-team <team>", "Cloudflare Access team name: cloudflared then requires a valid Access JWT")
    .addOption(new Option("--access-aud <tag...>", "Access application AUD tag(s)"))
    .option("--no-access", "print a config without Cloudflare Access (anyone who finds the hostname reaches the node's hooks path)")
    .option("--port <n>", "daemon port (default: clawgate.node.port, else 18789)")
    .option("--all-paths", "pass every path to the node (default: only the hooks path, /healthz and /readyz)")
    .action(async (opts: TunnelFlags, command: Command) => {
      const loaded = await loadConfigLoosely(resolveConfigPath(configFlag(command)));
      const node = loaded?.config.clawgate?.node;
      const port = opts.port === undefined ? (node?.port ?? DEFAULT_NODE_PORT) : Number(opts.port);
      if (!Number.isInteger(port) || port < 1 || port > 65_535) throw new CliError(`--port must be an integer from 1 to 65535, got "${opts.port}"`);
      if (Boolean(opts.accessTeam) !== Boolean(opts.accessAud?.length)) {
        throw new CliError("--access-team and --access-aud go together (Access needs the team and the application's AUD tag)");
      }
      const withAccess = Boolean(opts.accessTeam && opts.accessAud?.length);
      if (withAccess && !opts.access) throw new CliError("--no-access contradicts --access-team/--access-aud: pass one or the other");
      if (!withAccess && opts.access) throw new CliError(NO_ACCESS_TEXT);
      const hooksPath = loaded?.config.hooks?.path ?? DEFAULT_HOOKS_PATH;
      const text = usage(() =>
        buildTunnelConfig({
          tunnel: opts.tunnel,
          credentialsFile: resolve(expandHome(opts.credentialsFile ?? join("~/.cloudflared", `${opts.tunnel}.json`), homedir())),
          hostname: opts.hostname,
          host: node?.host ?? "127.0.0.1",
          port,
          ...(opts.allPaths ? {} : { pathRegex: defaultPathRegex(hooksPath) }),
          ...(opts.accessTeam && opts.accessAud ? { access: { teamName: opts.accessTeam, audTags: opts.accessAud } } : {}),
        }),
      );
      if (!withAccess) io.stderr(NO_ACCESS_WARNING);
      io.stdout(text);
    });

  const edge = program.command("edge").description("edge credentials: the envelope signing key pair and caller tokens");
  edge
    .command("keys")
    .description("generate the edge's envelope signing key pair (private JWK for the Worker, public JWK for the node)")
    .addOption(new Option("--alg <alg>", "signature algorithm").choices(["EdDSA", "ES256"]).default("EdDSA"))
    .option("--kid <kid>", "key id (default: edge-<date>-<random>)")
    .option("--private-out <file>", "write the private JWK to this new 0600 file")
    .option("--print-private", "print the private JWK to stdout instead (for a pipe into wrangler secret put)")
    .option("--json", "print {kid, alg, publicJwk, privateJwk?, privateKeyFile?} as JSON")
    .action(async (opts: KeysFlags) => {
      if (!opts.privateOut && !opts.printPrivate) {
        throw new CliError("say where the private key goes: --private-out FILE (a new 0600 file) or --print-private (stdout)");
      }
      const pair = await usage(() => generateEdgeKeyPair({ alg: opts.alg, ...(opts.kid ? { kid: opts.kid } : {}) }));
      const privateFile = opts.privateOut ? resolve(opts.privateOut) : undefined;
      if (privateFile) await writeNewPrivateFile(privateFile, `${JSON.stringify(pair.privateJwk)}\n`, "--private-out");
      if (opts.json) {
        io.stdout(
          `${JSON.stringify({
            kid: pair.kid,
            alg: pair.alg,
            publicJwk: pair.publicJwk,
            ...(opts.printPrivate ? { privateJwk: pair.privateJwk } : {}),
            ...(privateFile ? { privateKeyFile: privateFile } : {}),
          })}\n`,
        );
        return;
      }
      if (opts.printPrivate && !privateFile) {
        // stdout carries only the private JWK, so `clawgate edge keys --print-private | wrangler secret put …` works;
        // the public half and the instructions go to stderr.
        io.stdout(`${JSON.stringify(pair.privateJwk)}\n`);
        io.stderr(`public JWK for clawgate.edge.publicKeys in the node config:\n${JSON.stringify(pair.publicJwk)}\n`);
        return;
      }
      io.stdout(
        [
          `edge signing key ${pair.kid} (${pair.alg})`,
          `private JWK written to ${privateFile} (0600). Give it to the Worker, then delete the file:`,
          `  npx wrangler secret put CLAWGATE_EDGE_SIGNING_KEY < ${privateFile}`,
          "public JWK — add it to clawgate.edge.publicKeys in the node config (keep the old key there during a rotation):",
          `  ${JSON.stringify(pair.publicJwk)}`,
          "",
        ].join("\n"),
      );
    });

  edge
    .command("token")
    .argument("<name>", "the caller's name (e.g. ci, github)")
    .description("generate a caller token (cg_…) and the {name, sha256} entry for the edge's bearer policy")
    .option("--out <file>", "write the token to this new 0600 file instead of stdout")
    .option("--json", "print {name, sha256, token?, tokenFile?} as JSON")
    .action(async (name: string, opts: TokenFlags) => {
      const { token, entry } = usage(() => generateCallerToken(name));
      const file = opts.out ? resolve(opts.out) : undefined;
      if (file) await writeNewPrivateFile(file, `${token}\n`, "--out");
      if (opts.json) {
        io.stdout(`${JSON.stringify({ ...entry, ...(file ? { tokenFile: file } : { token }) })}\n`);
        return;
      }
      io.stdout(
        [
          file ? `token written to ${file} (0600); give it to the caller "${name}"` : `token (shown once; the edge keeps only its hash):\n  ${token}`,
          "entry for the edge's bearer policy (CLAWGATE_EDGE_CONFIG):",
          `  ${JSON.stringify(entry)}`,
          "",
        ].join("\n"),
      );
    });
}
