/** The resolver side of exec protocol v1: read one request from stdin, fan its ids out, answer values and per-id errors. */
import { z } from "zod";
import { EXEC_PROTOCOL_VERSION } from "../../shared/constants.ts";

export const ResolverRequestSchema = z.object({
  protocolVersion: z.literal(EXEC_PROTOCOL_VERSION),
  provider: z.string(),
  ids: z.array(z.string().min(1)),
});

export type IdResult = { value: string } | { error: string };

/** Resolves one id; never throws for an id-level failure (return `{error}`). */
export type IdResolver = (id: string) => Promise<IdResult>;

export interface ResolverIo {
  readonly stdin: AsyncIterable<Buffer | string> | Iterable<Buffer | string>;
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
}

/** Answer one protocol-v1 request; resolves to the process exit code (2 for a malformed request). */
export async function runResolver(resolveId: IdResolver, io: ResolverIo, concurrency = 4): Promise<number> {
  let input = "";
  for await (const chunk of io.stdin) input += chunk.toString();
  let request: z.infer<typeof ResolverRequestSchema>;
  try {
    request = ResolverRequestSchema.parse(JSON.parse(input));
  } catch {
    io.stderr('clawgate resolver: stdin must be one JSON request {"protocolVersion":1,"provider":"...","ids":[...]}\n');
    return 2;
  }
  const ids = [...new Set(request.ids)];
  const values: Record<string, string> = {};
  const errors: Record<string, { message: string }> = {};
  let next = 0;
  const worker = async () => {
    while (next < ids.length) {
      const id = ids[next++]!;
      const result = await resolveId(id).catch((): IdResult => ({ error: "resolver failed" }));
      if ("value" in result) values[id] = result.value;
      else errors[id] = { message: result.error };
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, ids.length)) }, worker));
  io.stdout(`${JSON.stringify({ protocolVersion: EXEC_PROTOCOL_VERSION, values, errors })}\n`);
  return 0;
}
