/** Finds secret values in collected output: raw, and hex / base64 / base64url encoded at any byte alignment. */

export interface ScannedOutput {
  /** Where the bytes came from (a file, a response, a process's stdout), for the failure message. */
  readonly where: string;
  readonly text: string;
}

/**
 * The forms a value can take in output. Base64 of a value inside a longer encoded blob depends on the bytes
 * before it, so each of the three byte alignments contributes the run of characters that only the value decides.
 */
export function encodedForms(value: string): { form: string; text: string }[] {
  const bytes = Buffer.from(value, "utf8");
  const forms = [
    { form: "raw", text: value },
    { form: "hex", text: bytes.toString("hex") },
    { form: "HEX", text: bytes.toString("hex").toUpperCase() },
  ];
  for (let shift = 0; shift < 3; shift++) {
    const encoded = Buffer.concat([Buffer.alloc(shift), bytes]).toString("base64");
    const inner = encoded.slice(Math.ceil((8 * shift) / 6), Math.floor((8 * (shift + bytes.length)) / 6));
    forms.push({ form: `base64+${shift}`, text: inner }, { form: `base64url+${shift}`, text: inner.replaceAll("+", "-").replaceAll("/", "_") });
  }
  return forms;
}

/** One line per (secret, form, place) found: `NAME (form) in where`. Forms that coincide are reported once. */
export function findSecrets(outputs: readonly ScannedOutput[], secrets: Readonly<Record<string, string>>): string[] {
  const found: string[] = [];
  for (const [name, value] of Object.entries(secrets)) {
    const seen = new Set<string>();
    for (const { form, text } of encodedForms(value)) {
      if (seen.has(text)) continue;
      seen.add(text);
      for (const output of outputs) if (output.text.includes(text)) found.push(`${name} (${form}) in ${output.where}`);
    }
  }
  return found;
}
