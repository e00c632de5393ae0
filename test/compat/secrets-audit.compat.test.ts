/**
 * `secrets audit` differential: the real `openclaw secrets audit` (2026.2.26) and `clawgate secrets audit` on the same
 * state dir and environment. Same exit codes with and without --check, the same findings (code, severity, file,
 * jsonPath in OpenClaw's notation, provider) — clawgate may add only the findings docs/openclaw-compat.md lists under
 * "Differences from OpenClaw".
 */
import { spawn } from "node:child_process";
import { chmod, mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../helpers/run-cli.ts";
import { AUDIT_CASES } from "./audit-cases.ts";
import { documentedDifferences } from "./differences.ts";
import { ensureOpenClaw, openClawEntry } from "./support/openclaw-install.ts";

interface Finding {
  code: string;
  severity: string;
  file: string;
  jsonPath: string;
  message: string;
  provider?: string;
}
interface Run {
  code: number | null;
  checkCode: number | null;
  findings: string[];
  raw: string;
}

let root = "";
const results: { name: string; verdict: string; detail: string }[] = [];

beforeAll(() => {
  root = ensureOpenClaw();
}, 15 * 60_000);

function exec(args: string[], env: NodeJS.ProcessEnv, cwd: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { env, cwd, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
    child.on("error", reject);
    child.on("close", (code) => (clearTimeout(timer), resolve({ code, stdout, stderr })));
  });
}

/** One comparable line per finding: code, severity, file (relative to the state dir), jsonPath, provider. */
function keys(stdout: string, dir: string): string[] {
  const start = stdout.indexOf("{");
  const report = JSON.parse(stdout.slice(start)) as { findings: Finding[] };
  return report.findings
    .map((f) => {
      const via = f.code === "REF_SHADOWED" && f.message.startsWith("environment variable") ? " via-env" : "";
      return `${f.code} ${f.severity} ${f.file.startsWith("/") ? relative(dir, f.file) : f.file}:${f.jsonPath}${f.provider ? ` (${f.provider})` : ""}${via}`;
    })
    .sort();
}

async function runBoth(dir: string, env: NodeJS.ProcessEnv): Promise<{ openclaw: Run; clawgate: Run; clawgateExec: Run }> {
  const oc = (extra: string[]) => exec([openClawEntry(root), "secrets", "audit", "--json", ...extra], env, dir);
  const cg = (extra: string[]) => runCli(["secrets", "audit", "--json", "--config", join(dir, "openclaw.json"), ...extra], { env, cwd: dir, timeoutMs: 60_000 });
  const [a, aCheck, b, bCheck, c, cCheck] = await Promise.all([oc([]), oc(["--check"]), cg([]), cg(["--check"]), cg(["--allow-exec"]), cg(["--allow-exec", "--check"])]);
  const run = (x: { code: number | null; stdout: string; stderr: string }, check: { code: number | null }): Run => {
    let findings: string[];
    try {
      findings = keys(x.stdout, dir);
    } catch {
      findings = [`<no JSON report: ${(x.stderr || x.stdout).trim().split("\n")[0]}>`];
    }
    return { code: x.code, checkCode: check.code, findings, raw: x.stdout + x.stderr };
  };
  return { openclaw: run(a, aCheck), clawgate: run(b, bCheck), clawgateExec: run(c, cCheck) };
}

/**
 * The findings only clawgate reports, each allowed by one documented difference:
 * audit-more-credential-paths — credential paths OpenClaw 2026.2.26 does not audit, and more `.env` names;
 * audit-env-shadowing — a process env variable that overrides a configured ref;
 * audit-legacy-auth-beside-config — the older `auth.json` beside the config.
 */
const OPENCLAW_ENV_NAMES = /^\$env\.(OPENAI|ANTHROPIC|GEMINI|MINIMAX|MOONSHOT|KIMI|KIMICODE|SYNTHETIC|VENICE|ZAI|Z_AI|XIAOMI|OPENROUTER|CLOUDFLARE_AI_GATEWAY|LITELLM|AI_GATEWAY|OPENCODE|OPENCODE_ZEN|TOGETHER|QIANFAN|XAI|MISTRAL|KILOCODE|VOLCANO_ENGINE|BYTEPLUS)_API_KEY$|^\$env\.(HUGGINGFACE_HUB_TOKEN|HF_TOKEN)$/;
function extraAllowedBy(finding: string): string | undefined {
  const [code, , where] = finding.split(" ");
  const jsonPath = where!.slice(where!.indexOf(":") + 1);
  const file = where!.slice(0, where!.indexOf(":"));
  if (code === "PLAINTEXT_FOUND" && /^(gateway\.auth\.|hooks\.token$|channels\.(?!googlechat\.)[^.]+\.|models\.providers\.[^.]+\.headers\.|agents\.list\.)/.test(jsonPath)) return "audit-more-credential-paths";
  if (code === "PLAINTEXT_FOUND" && jsonPath.startsWith("$env.") && !OPENCLAW_ENV_NAMES.test(jsonPath)) return "audit-more-credential-paths";
  if (code === "REF_SHADOWED" && file === "openclaw.json" && finding.endsWith(" via-env")) return "audit-env-shadowing";
  if (code === "LEGACY_RESIDUE" && file === "auth.json") return "audit-legacy-auth-beside-config";
  return undefined;
}

describe("secrets audit: clawgate reports as OpenClaw 2026.2.26", () => {
  for (const c of AUDIT_CASES) {
    it(c.name, async () => {
      const dir = await mkdtemp(join(tmpdir(), "clawgate-audit-"));
      await chmod(dir, 0o700);
      try {
        const home = join(dir, "home");
        await mkdir(home, { mode: 0o700 });
        const extra = await c.setup(dir);
        const env = { PATH: process.env["PATH"] ?? "", HOME: home, OPENCLAW_STATE_DIR: dir, OPENCLAW_CONFIG_PATH: join(dir, "openclaw.json"), NO_COLOR: "1", ...extra };
        const { openclaw, clawgate, clawgateExec } = await runBoth(dir, env);
        const problems: string[] = [];
        const documented = new Set(documentedDifferences());
        // With --allow-exec clawgate resolves exec refs as OpenClaw always does: exit codes and findings must agree.
        const missing = openclaw.findings.filter((f) => !clawgateExec.findings.includes(f));
        if (missing.length > 0) problems.push(`OpenClaw's findings clawgate lacks:\n    ${missing.join("\n    ")}`);
        const extras = clawgateExec.findings.filter((f) => !openclaw.findings.includes(f));
        // The exit codes OpenClaw's rule gives for OpenClaw's findings plus the documented extras (an extra finding on
        // a config OpenClaw finds clean turns --check's 0 into 1; nothing else may differ).
        const all = [...openclaw.findings, ...extras];
        const unresolved = all.some((f) => f.startsWith("REF_UNRESOLVED"));
        const expected = extras.length === 0 ? [openclaw.code, openclaw.checkCode] : [unresolved ? 2 : 0, unresolved ? 2 : all.length > 0 ? 1 : 0];
        if (clawgateExec.code !== expected[0] || clawgateExec.checkCode !== expected[1]) {
          problems.push(`exit codes (plain, --check): openclaw ${openclaw.code}, ${openclaw.checkCode}; clawgate --allow-exec ${clawgateExec.code}, ${clawgateExec.checkCode}; expected ${expected.join(", ")}`);
        }
        const undocumented = extras.filter((f) => {
          const id = extraAllowedBy(f);
          return id === undefined || !documented.has(id);
        });
        if (undocumented.length > 0) problems.push(`clawgate's undocumented extra findings:\n    ${undocumented.join("\n    ")}`);
        // Extra findings change --check only where OpenClaw found nothing; that is the documented difference's effect.
        // Without --allow-exec the only difference is exec refs left unresolved (audit-exec-opt-in).
        const execOnly = clawgate.findings.filter((f) => !clawgateExec.findings.includes(f));
        if (execOnly.length > 0) problems.push(`without --allow-exec clawgate adds:\n    ${execOnly.join("\n    ")}`);
        const skippedExec = clawgateExec.findings.filter((f) => !clawgate.findings.includes(f));
        if (skippedExec.some((f) => !f.startsWith("REF_UNRESOLVED"))) problems.push(`without --allow-exec clawgate also drops: ${skippedExec.join(", ")}`);
        if (skippedExec.length > 0 && !documented.has("audit-exec-opt-in")) problems.push("audit-exec-opt-in is not documented");
        const verdict = problems.length === 0 ? (extras.length > 0 || skippedExec.length > 0 ? "documented" : "identical") : "UNEXPECTED";
        results.push({ name: c.name, verdict, detail: [...extras.map((e) => `+ ${e} [${extraAllowedBy(e)}]`), ...skippedExec.map((e) => `- ${e} without --allow-exec [audit-exec-opt-in]`)].join("\n    ") });
        expect(problems, `${c.name}\nopenclaw (exit ${openclaw.code}/${openclaw.checkCode}):\n  ${openclaw.findings.join("\n  ")}\nclawgate --allow-exec (exit ${clawgateExec.code}/${clawgateExec.checkCode}):\n  ${clawgateExec.findings.join("\n  ")}`).toEqual([]);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    }, 120_000);
  }

  afterAll(() => {
    const lines = results.map((r) => `${r.verdict.padEnd(10)} ${r.name}${r.detail ? `\n    ${r.detail}` : ""}`);
    lines.push(`secrets audit: ${results.length} configs, ${results.filter((r) => r.verdict === "identical").length} identical, ${results.filter((r) => r.verdict === "documented").length} with documented differences only, ${results.filter((r) => r.verdict === "UNEXPECTED").length} unexpected`);
    console.log(lines.join("\n"));
  });
});
