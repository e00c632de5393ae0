/** The part of madge's API (8.x, which ships no types) the architecture tests use. */
declare module "madge" {
  interface MadgeConfig {
    readonly fileExtensions?: readonly string[];
    readonly tsConfig?: string;
    readonly baseDir?: string;
    readonly detectiveOptions?: object;
  }
  interface MadgeResult {
    /** Each file (relative to the working directory) and the local files it imports. */
    obj(): Record<string, string[]>;
    /** Every file cycle, each as the files on it. */
    circular(): string[][];
    /** Imports that resolved to no file: packages and builtins, or a broken local path. */
    warnings(): { skipped: string[] };
  }
  export default function madge(path: string | readonly string[], config?: MadgeConfig): Promise<MadgeResult>;
}
