/**
 * OpenClaw's `${VAR}` substitution in config strings (docs/openclaw-compat.md §4): `secrets audit` reads a config as
 * OpenClaw loads it, with every `${NAME}` (uppercase names) replaced by the variable's value, `$${NAME}` kept as a
 * literal `${NAME}`, and an unset or empty variable making the config invalid.
 */

export class MissingEnvVarError extends Error {
  override readonly name = "MissingEnvVarError";
  readonly code = "ERR_CONFIG_ENV_VAR_MISSING";
  readonly varName: string;
  readonly configPath: string;

  constructor(varName: string, configPath: string) {
    super(`Missing env var "${varName}" referenced at config path: ${configPath}`);
    this.varName = varName;
    this.configPath = configPath;
  }
}

const NAME = /^[A-Z_][A-Z0-9_]*$/;

function substituteString(value: string, env: NodeJS.ProcessEnv, path: string): string {
  if (!value.includes("$")) return value;
  let out = "";
  for (let i = 0; i < value.length; i++) {
    const ch = value[i]!;
    if (ch === "$") {
      const escaped = value[i + 1] === "$" && value[i + 2] === "{";
      const open = escaped ? i + 3 : value[i + 1] === "{" ? i + 2 : -1;
      const close = open === -1 ? -1 : value.indexOf("}", open);
      const name = close === -1 ? "" : value.slice(open, close);
      if (close !== -1 && NAME.test(name)) {
        if (escaped) out += `\${${name}}`;
        else {
          const v = env[name];
          if (v === undefined || v === "") throw new MissingEnvVarError(name, path);
          out += v;
        }
        i = close;
        continue;
      }
    }
    out += ch;
  }
  return out;
}

/** A copy of `value` with every string substituted; throws MissingEnvVarError naming the variable and the path. */
export function substituteEnvVars(value: unknown, env: NodeJS.ProcessEnv, path = ""): unknown {
  if (typeof value === "string") return substituteString(value, env, path);
  if (Array.isArray(value)) return value.map((item, i) => substituteEnvVars(item, env, `${path}[${i}]`));
  if (typeof value === "object" && value !== null) {
    const out: Record<string, unknown> = {};
    // defineProperty: a `__proto__` key stays an own property, never the copy's prototype.
    for (const [key, item] of Object.entries(value)) {
      Object.defineProperty(out, key, { value: substituteEnvVars(item, env, path ? `${path}.${key}` : key), enumerable: true, writable: true, configurable: true });
    }
    return out;
  }
  return value;
}
