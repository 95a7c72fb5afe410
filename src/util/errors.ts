/**
 * Errors the user can act on. Each carries the exit status it maps to and, where it helps,
 * what to do about it. Anything else that escapes is a crash (exit 1, stack with --verbose).
 */

/** Exit statuses, documented in the README and in `avocado --help`. */
export const ExitCode = {
  ok: 0,
  buildFailed: 1,
  usage: 2,
  interrupted: 130,
} as const;

export abstract class AvocadoError extends Error {
  abstract readonly exitCode: number;
  /** What the user should do about it; printed after the message on the same line. */
  readonly hint?: string;

  constructor(message: string, hint?: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
    this.hint = hint;
  }

  /** The one line shown to the user (control characters of the values in it escaped). */
  get line(): string {
    return printable(this.hint ? `${this.message}; ${this.hint}` : this.message);
  }
}

/**
 * `text` as one printable line: newlines, NUL, escape sequences and the other control characters
 * of a value or a path quoted in a message are shown as escapes (`\n`, `\0`, `\x1b`), so that
 * a message is one line and cannot forge another or drive the terminal. Idempotent.
 */
export function printable(text: string): string {
  return text.replace(CONTROL_CHARACTERS, (c) => {
    const code = c.charCodeAt(0);
    return NAMED_ESCAPES[c] ?? (code < 0x100 ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16)}`);
  });
}

/** C0 (but tab), DEL, C1 and the Unicode line and paragraph separators. */
const CONTROL_CHARACTERS = /[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029]/g;
const NAMED_ESCAPES: Readonly<Record<string, string>> = { '\n': '\\n', '\r': '\\r', '\0': '\\0' };

/** Bad command line: unknown option, bad value, conflicting flags. Exit 2. */
export class UsageError extends AvocadoError {
  readonly exitCode = ExitCode.usage;
}

/** Where in a config file something is wrong. */
export interface ConfigLocation {
  file: string;
  line?: number;
  col?: number;
  /** Dotted YAML path, e.g. `extensions.app.version`. */
  yamlPath?: string;
}

export function formatLocation(loc: ConfigLocation): string {
  let s = loc.file;
  if (loc.line !== undefined) s += `:${loc.line}${loc.col !== undefined ? `:${loc.col}` : ''}`;
  if (loc.yamlPath) s += `: ${loc.yamlPath}`;
  return s;
}

/** Bad configuration (avocado.yaml, environment, missing inputs to a build). Exit 2. */
export class ConfigError extends AvocadoError {
  readonly exitCode = ExitCode.usage;
  readonly location?: ConfigLocation;

  constructor(message: string, location?: ConfigLocation, hint?: string) {
    super(location ? `${formatLocation(location)}: ${message}` : message, hint);
    this.location = location;
  }
}

/** The build itself failed (a tool crashed, a file could not be read, disk full). Exit 1. */
export class BuildError extends AvocadoError {
  readonly exitCode = ExitCode.buildFailed;
  /** Last lines of a child process's output, shown under the error line. */
  readonly details?: string;

  constructor(message: string, hint?: string, details?: string, options?: ErrorOptions) {
    super(message, hint, options);
    this.details = details;
  }
}

/** Ctrl-C (exit 130), SIGTERM (143) or SIGHUP (129): 128 + the signal number, as shells report it. */
export class InterruptedError extends AvocadoError {
  readonly exitCode: number;
  constructor(readonly signal: NodeJS.Signals) {
    super(`interrupted by ${signal}`);
    this.exitCode = signal === 'SIGTERM' ? 143 : signal === 'SIGHUP' ? 129 : ExitCode.interrupted;
  }
}

/**
 * A failure already reported in full (each extension's error, the JSON document): only its exit
 * status is left to give.
 */
export class ReportedFailure extends AvocadoError {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
  }
}

export function isAvocadoError(e: unknown): e is AvocadoError {
  return e instanceof AvocadoError;
}
