/** Scripted ConfigurePrompts: each prompt takes the next answer from a queue and records what it asked. */
import type { ConfigurePrompts } from "../../node/secrets/configure-prompts.ts";

/** An answer; `undefined` simulates a cancel (Ctrl-C). A function gets the prompt's initial value. */
export type ScriptedAnswer = string | boolean | undefined | ((initial: unknown) => string | boolean | undefined);

export interface ScriptedPrompts extends ConfigurePrompts {
  /** `kind: message` of every prompt asked, in order. */
  readonly asked: string[];
  /** Everything shown with note/warn/intro/outro. */
  readonly shown: string[];
}

export function scriptedPrompts(answers: ScriptedAnswer[]): ScriptedPrompts {
  const queue = [...answers];
  const asked: string[] = [];
  const shown: string[] = [];
  const next = (kind: string, message: string, initial: unknown, validate?: (v: string) => string | undefined) => {
    asked.push(`${kind}: ${message}`);
    if (queue.length === 0) throw new Error(`no scripted answer for ${kind}: ${message}`);
    const raw = queue.shift();
    const answer = typeof raw === "function" ? raw(initial) : raw;
    if (typeof answer === "string" && validate) {
      const problem = validate(answer);
      if (problem) throw new Error(`scripted answer "${answer}" rejected by ${kind} "${message}": ${problem}`);
    }
    return answer;
  };
  return {
    asked,
    shown,
    intro: (t) => void shown.push(`intro: ${t}`),
    outro: (m) => void shown.push(`outro: ${m}`),
    note: (m, t) => void shown.push(`note${t ? ` ${t}` : ""}: ${m}`),
    info: (m) => void shown.push(`info: ${m}`),
    warn: (m) => void shown.push(`warn: ${m}`),
    select: async (o) => next("select", o.message, o.initialValue) as never,
    text: async (o) => next("text", o.message, o.initialValue, o.validate) as string | undefined,
    confirm: async (o) => next("confirm", o.message, o.initialValue) as boolean | undefined,
  };
}
