/** The file secret provider: one bounded, permission-checked read per pass; `json` (RFC 6901 pointers) or `singleValue`. */
import { constants } from "node:fs";
import { type FileHandle, open as fsOpen } from "node:fs/promises";
import { expandHome } from "../config/home-path.ts";
import { getAtPointer } from "./json-pointer.ts";
import { checkSecureFile } from "./path-perms.ts";
import type { FileProviderConfig } from "../config/provider-config.ts";
import { type ProviderBatchResult, type SecretProvider, failAll } from "./provider-types.ts";
import { SecretResolutionError } from "./secret-errors.ts";
import { SINGLE_VALUE_ID } from "../config/secret-ref.ts";

export interface FileProviderOptions {
  readonly uid?: number | undefined;
  readonly home?: string;
  /** Opens the file for reading; the default refuses to follow a symlink (O_NOFOLLOW). */
  readonly open?: (path: string) => Promise<FileHandle>;
}

const defaultOpen = (path: string) => fsOpen(path, constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0));

export function createFileProvider(alias: string, config: FileProviderConfig, options: FileProviderOptions = {}): SecretProvider {
  const path = expandHome(config.path, options.home);
  const configPath = `secrets.providers.${alias}.path`;
  const open = options.open ?? defaultOpen;
  const { maxBytes, timeoutMs, mode } = config;

  async function readBounded(): Promise<Buffer> {
    await checkSecureFile(path, { kind: "file", configPath, uid: options.uid });
    const fh = await open(path);
    try {
      // Re-check the opened descriptor: the path may have been swapped between the check and the open.
      const st = await fh.stat();
      const uid = options.uid === undefined ? process.getuid?.() : options.uid;
      if (!st.isFile() || (uid !== undefined && st.uid !== uid) || (st.mode & 0o077) !== 0) {
        throw new SecretResolutionError("ERR_SECRET_FILE_PERMS", `${configPath} changed while being read: ${path}`);
      }
      // Read at most maxBytes + 1 so an oversized file is detected without reading all of it; size the
      // buffer from fstat (plus one byte to notice growth) instead of zero-filling maxBytes every pass.
      const buffer = Buffer.allocUnsafe(Math.min(maxBytes, st.size) + 1);
      let length = 0;
      while (length < buffer.length) {
        const { bytesRead } = await fh.read(buffer, length, buffer.length - length, length);
        if (bytesRead === 0) break;
        length += bytesRead;
      }
      if (length > maxBytes) {
        throw new SecretResolutionError("ERR_SECRET_FILE_TOO_LARGE", `${configPath} exceeds maxBytes (${maxBytes}): ${path}`);
      }
      if (length === buffer.length) {
        // More bytes than fstat reported: the file grew mid-read; refuse rather than use a torn read.
        throw new SecretResolutionError("ERR_SECRET_FILE_READ", `${configPath} changed while being read: ${path}`);
      }
      return buffer.subarray(0, length);
    } finally {
      await fh.close();
    }
  }

  async function readWithTimeout(): Promise<Buffer> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new SecretResolutionError("ERR_SECRET_FILE_TIMEOUT", `${configPath} read timed out after ${timeoutMs} ms: ${path}`)),
        timeoutMs,
      );
    });
    try {
      return await Promise.race([readBounded(), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  return {
    alias,
    source: "file",
    async resolve(ids): Promise<ProviderBatchResult> {
      let content: string;
      try {
        content = (await readWithTimeout()).toString("utf8");
      } catch (error) {
        return failAll(ids, asResolutionError(error, configPath, path));
      }
      const values = new Map<string, string>();
      const errors = new Map<string, SecretResolutionError>();

      if (mode === "singleValue") {
        const value = content.replace(/\r?\n$/, "");
        for (const id of ids) {
          if (id !== SINGLE_VALUE_ID) {
            errors.set(id, new SecretResolutionError("ERR_SECRET_FILE_FORMAT", `singleValue file provider only supports id "value"`));
          } else if (value === "") {
            errors.set(id, new SecretResolutionError("ERR_SECRET_FILE_FORMAT", `${configPath} is empty: ${path}`));
          } else {
            values.set(id, value);
          }
        }
        return { values, errors };
      }

      let doc: unknown;
      try {
        doc = JSON.parse(content.replace(/^\uFEFF/, ""));
      } catch {
        // JSON.parse's message can quote a slice of the input, which may be a secret: never forward it.
        return failAll(ids, new SecretResolutionError("ERR_SECRET_FILE_FORMAT", `${configPath} is not valid JSON: ${path}`));
      }
      if (typeof doc !== "object" || doc === null || Array.isArray(doc)) {
        return failAll(ids, new SecretResolutionError("ERR_SECRET_FILE_FORMAT", `${configPath} is not a JSON object: ${path}`));
      }
      for (const id of ids) {
        let found;
        try {
          found = getAtPointer(doc, id);
        } catch {
          found = { found: false as const };
        }
        if (!found.found) {
          errors.set(id, new SecretResolutionError("ERR_SECRET_POINTER_MISSING", `JSON pointer "${id}" not found in ${path}`));
        } else if (typeof found.value !== "string" || found.value === "") {
          errors.set(
            id,
            new SecretResolutionError("ERR_SECRET_FILE_FORMAT", `JSON pointer "${id}" in ${path} is not a non-empty string`),
          );
        } else {
          values.set(id, found.value);
        }
      }
      return { values, errors };
    },
  };
}

function asResolutionError(error: unknown, configPath: string, path: string): SecretResolutionError {
  if (error instanceof SecretResolutionError) return error;
  const code = (error as NodeJS.ErrnoException).code;
  if (code === "ELOOP") return new SecretResolutionError("ERR_SECRET_FILE_PATH", `${configPath} is a symlink: ${path}`);
  return new SecretResolutionError("ERR_SECRET_FILE_READ", `${configPath} cannot be read (${code ?? "error"}): ${path}`, {
    cause: error,
  });
}
