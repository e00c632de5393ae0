/** Fresh edge credentials: the envelope signing key pair (private JWK for the Worker, public JWK for the node) and caller tokens. */
import { createHash, randomBytes } from "node:crypto";
import { exportJWK, generateKeyPair, type JWK } from "jose";
import { ENVELOPE_ALGORITHMS, type EnvelopeAlgorithm } from "../../shared/envelope.ts";

/** The prefix of a caller token, so a leaked one is recognisable (secret scanners, logs). */
export const CALLER_TOKEN_PREFIX = "cg_";
/** A caller name as the edge's bearer policy lists it (`tokens[].name`). */
export const CALLER_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
/** A key id: short, printable, safe in a JWS header and a file name. */
export const KID_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export interface EdgeKeyPair {
  readonly kid: string;
  readonly alg: EnvelopeAlgorithm;
  /** For `wrangler secret put CLAWGATE_EDGE_SIGNING_KEY` (the Worker signs envelopes with it). */
  readonly privateJwk: JWK;
  /** For `clawgate.edge.publicKeys` in the node's config (the node verifies envelopes with it). */
  readonly publicJwk: JWK;
}

export interface EdgeKeyOptions {
  readonly alg?: EnvelopeAlgorithm;
  readonly kid?: string;
  readonly now?: () => Date;
  readonly randomBytes?: (n: number) => Buffer;
}

/** A default kid names the day it was made, so a rotation's two keys are told apart at a glance. */
export function defaultKid(now: Date, random: Buffer): string {
  return `edge-${now.toISOString().slice(0, 10)}-${random.toString("hex").slice(0, 6)}`;
}

export async function generateEdgeKeyPair(options: EdgeKeyOptions = {}): Promise<EdgeKeyPair> {
  const alg = options.alg ?? "EdDSA";
  if (!ENVELOPE_ALGORITHMS.includes(alg)) throw new TypeError(`alg must be one of ${ENVELOPE_ALGORITHMS.join(", ")}`);
  const kid = options.kid ?? defaultKid((options.now ?? (() => new Date()))(), (options.randomBytes ?? randomBytes)(3));
  if (!KID_RE.test(kid)) throw new TypeError("kid must be 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit");
  // EdDSA = Ed25519 (RFC 8037), ES256 = P-256 (RFC 7518 §3.4); extractable so the private half can be exported once.
  const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true });
  const common = { kid, alg, use: "sig" };
  return {
    kid,
    alg,
    privateJwk: { ...(await exportJWK(privateKey)), ...common },
    publicJwk: { ...(await exportJWK(publicKey)), ...common },
  };
}

export interface CallerToken {
  /** The bearer token the caller sends; shown once, never stored by clawgate. */
  readonly token: string;
  /** The entry for the edge's bearer policy: `{ type: "bearer", tokens: [entry] }`. */
  readonly entry: { readonly name: string; readonly sha256: string };
}

/** `cg_` + base64url of 32 random bytes (256 bits); the edge stores only its hex SHA-256. */
export function generateCallerToken(name: string, random: (n: number) => Buffer = randomBytes): CallerToken {
  if (!CALLER_NAME_RE.test(name)) {
    throw new TypeError("token name must be 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit");
  }
  const token = `${CALLER_TOKEN_PREFIX}${random(32).toString("base64url")}`;
  return { token, entry: { name, sha256: createHash("sha256").update(token).digest("hex") } };
}
