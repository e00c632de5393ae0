/** Errors of config loading: a stable code, the config file and the JSON path of each problem, never a value. */

export interface ConfigIssue {
  /** Dotted path into the config (`models.providers.openai.apiKey`), or "" for the whole file. */
  readonly path: string;
  readonly message: string;
}

export type ConfigErrorCode = "ERR_CONFIG_NOT_FOUND" | "ERR_CONFIG_READ" | "ERR_CONFIG_SYNTAX" | "ERR_CONFIG_INVALID";

export class ConfigError extends Error {
  override readonly name = "ConfigError";
  readonly code: ConfigErrorCode;
  readonly file: string;
  readonly issues: readonly ConfigIssue[];

  constructor(code: ConfigErrorCode, file: string, issues: readonly ConfigIssue[], options?: { cause?: unknown }) {
    super(ConfigError.format(file, issues), options);
    this.code = code;
    this.file = file;
    this.issues = issues;
  }

  /** One line for a single issue (`file: path: reason`), else a headline and one line per issue. */
  static format(file: string, issues: readonly ConfigIssue[]): string {
    const line = (i: ConfigIssue) => (i.path ? `${i.path}: ${i.message}` : i.message);
    if (issues.length === 1) return `${file}: ${line(issues[0]!)}`;
    return [`${file}: ${issues.length} problems`, ...issues.map((i) => `- ${line(i)}`)].join("\n");
  }
}
