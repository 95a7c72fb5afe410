/**
 * `--container-arg` and `sdk.container_args` values: each split once into arguments with POSIX
 * shell quoting ('…', "…", backslashes), `$VAR` / `${VAR}` expanded from the host environment
 * (unset: empty, as the Avocado CLI does). An expansion never splits a word further, and shell
 * operators are refused: the values become argv entries, never a shell command.
 */
import { parse } from 'shell-quote';
import { ConfigError, UsageError, type ConfigLocation } from '../util/errors.js';

export interface ArgSource {
  readonly value: string;
  /** `--container-arg`, or where in avocado.yaml. */
  readonly from: string | ConfigLocation;
}

export function splitContainerArgs(sources: readonly ArgSource[], env: Readonly<Record<string, string | undefined>>): string[] {
  return sources.flatMap((s) => splitOne(s, env));
}

function splitOne(source: ArgSource, env: Readonly<Record<string, string | undefined>>): string[] {
  const fail = (message: string) =>
    typeof source.from === 'string'
      ? new UsageError(`${source.from} ${JSON.stringify(source.value)}: ${message}`, 'quote it as a shell would')
      : new ConfigError(`${JSON.stringify(source.value)}: ${message}`, source.from, 'quote it as a shell would');
  const open = unterminatedQuote(source.value);
  if (open) throw fail(`unterminated ${open === "'" ? 'single' : 'double'} quote`);
  const out: string[] = [];
  for (const token of parse(source.value, (name: string) => env[name] ?? '')) {
    if (typeof token === 'string') {
      if (token !== '') out.push(token);
    } else if ('op' in token && token.op === 'glob') out.push(token.pattern);
    else if ('comment' in token) throw fail(`'#' starts a comment here; quote it`);
    else throw fail(`shell operator '${(token as { op: string }).op}' is not allowed in a container argument`);
  }
  return out;
}

/** The quote left open at the end of `s`, if any. */
function unterminatedQuote(s: string): string | undefined {
  let quote: string | undefined;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (quote === "'") {
      if (c === "'") quote = undefined;
    } else if (c === '\\') i++;
    else if (quote === '"') {
      if (c === '"') quote = undefined;
    } else if (c === "'" || c === '"') quote = c;
  }
  return quote;
}
