/**
 * Everything the user sees. Text mode: one line per step on stderr, warnings, a progress bar on
 * a TTY (a progress line every ~10 s elsewhere, so that CI logs of long builds are not silent),
 * and a final summary. JSON mode: the same on stderr and exactly one JSON document on stdout.
 * Colour only on a TTY and never with NO_COLOR. Every warning is kept, for `--json` and
 * `--strict`.
 */
import { styleText } from 'node:util';
import { UsageError, printable } from '../util/errors.js';
import { formatBytes, type Reporter as StepReporter } from '../util/reporter.js';

type Style = Parameters<typeof styleText>[0];

export interface ReporterOptions {
  readonly json: boolean;
  readonly verbose: boolean;
  /** `--strict`: warnings fail the command at its next checkpoint. */
  readonly strict?: boolean;
  readonly color?: boolean;
  readonly stderr?: NodeJS.WriteStream;
  readonly stdout?: NodeJS.WriteStream;
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Milliseconds (performance.now); a test's clock. */
  readonly now?: () => number;
}

/** How often a progress line is printed where no bar can be drawn. */
const PLAIN_PROGRESS_INTERVAL_MS = 10_000;
/** The rate is measured over about this long, so that the ETA follows changes of pace. */
const RATE_WINDOW_MS = 5_000;

export class Reporter implements StepReporter {
  readonly json: boolean;
  readonly verboseOn: boolean;
  readonly strict: boolean;
  /** Every warning given, in order. */
  readonly warnings: string[] = [];
  private checkedWarnings = 0;
  private readonly err: NodeJS.WriteStream;
  private readonly out: NodeJS.WriteStream;
  private readonly color: boolean;
  private readonly tty: boolean;
  private readonly drawBar: boolean;
  private progressShown = false;
  private lastDraw = 0;
  private lastPlain = 0;
  /** Recent (time, done) samples of the current progress, for the rate. */
  private samples: { t: number; done: number }[] = [];
  private readonly now: () => number;
  private readonly started: number;

  constructor(opts: ReporterOptions) {
    const env = opts.env ?? process.env;
    this.json = opts.json;
    this.verboseOn = opts.verbose;
    this.strict = opts.strict === true;
    this.err = opts.stderr ?? process.stderr;
    this.out = opts.stdout ?? process.stdout;
    this.tty = this.err.isTTY === true;
    this.color = opts.color !== false && (env.FORCE_COLOR ? env.FORCE_COLOR !== '0' : this.tty && !env.NO_COLOR && env.TERM !== 'dumb');
    this.drawBar = this.tty && !env.CI && env.TERM !== 'dumb' && !opts.verbose;
    this.now = opts.now ?? (() => performance.now());
    this.started = this.now();
  }

  paint(style: Style, text: string): string {
    return this.color ? styleText(style, text) : text;
  }

  private line(text: string): void {
    this.clearProgress();
    this.err.write(`${text}\n`);
  }

  step(message: string): void {
    const at = this.verboseOn ? this.paint('dim', ` [${((this.now() - this.started) / 1000).toFixed(2)}s]`) : '';
    this.line(`${this.paint('dim', '›')} ${printable(message)}${at}`);
  }

  warn(message: string): void {
    // Warnings, like errors, quote the user's values: each stays one line.
    message = printable(message);
    this.warnings.push(message);
    this.line(`${this.paint('yellow', this.strict ? 'warning (an error with --strict):' : 'warning:')} ${message}`);
  }

  /** With `--strict`, fails (exit 2) if a warning was given since the last check. */
  checkpoint(): void {
    const fresh = this.warnings.length - this.checkedWarnings;
    this.checkedWarnings = this.warnings.length;
    if (this.strict && fresh > 0)
      throw new UsageError(`--strict: ${fresh === 1 ? 'the warning above is an error' : `the ${fresh} warnings above are errors`}`, 'fix what they say, or drop --strict');
  }

  verbose(message: string): void {
    if (this.verboseOn) this.line(this.paint('dim', `  ${printable(message)} [${((this.now() - this.started) / 1000).toFixed(2)}s]`));
  }

  error(message: string, details?: string, stack?: string): void {
    this.line(`${this.paint('red', 'error:')} ${printable(message)}`);
    if (details) for (const l of details.split('\n')) this.err.write(this.paint('dim', `  | ${l}`) + '\n');
    if (stack) this.err.write(this.paint('dim', stack) + '\n');
  }

  /**
   * `done` bytes of `total` (the walk's file bytes), or of output written when `total` is
   * undefined. A bar with rate and ETA on a TTY; elsewhere a line every ~10 s.
   */
  progress(done: number, total?: number): void {
    const now = this.now();
    if (!this.samples.length) this.lastPlain = now;
    this.samples.push({ t: now, done });
    while (this.samples.length > 2 && now - this.samples[1]!.t > RATE_WINDOW_MS) this.samples.shift();
    const first = this.samples[0]!;
    const rate = now > first.t ? ((done - first.done) * 1000) / (now - first.t) : 0;
    const left = total !== undefined && rate > 0 ? Math.max(0, total - done) / rate : undefined;
    if (this.drawBar) {
      if (now - this.lastDraw < 100 && (total === undefined || done < total)) return;
      this.lastDraw = now;
      this.err.write(`\r\x1b[2K${this.paint('cyan', progressText(done, total, rate, left, true))}`);
      this.progressShown = true;
    } else {
      if (now - this.lastPlain < PLAIN_PROGRESS_INTERVAL_MS) return;
      this.lastPlain = now;
      this.step(progressText(done, total, rate, left, false));
    }
  }

  private clearProgress(): void {
    if (this.progressShown) {
      this.err.write('\r\x1b[2K');
      this.progressShown = false;
    }
  }

  /** The final lines (text mode): the first with a tick, the others indented under it. */
  done(message: string, ...more: string[]): void {
    this.samples = [];
    this.line(`${this.paint('green', '✔')} ${message}`);
    for (const m of more) this.err.write(`  ${m}\n`);
  }

  /**
   * A line of the command's data on stdout (`ext inspect --list`, `ext diff`): waits while the
   * reader of a pipe is behind, so that a long listing does not pile up in memory.
   */
  async print(text: string): Promise<void> {
    this.clearProgress();
    if (!this.out.write(`${text}\n`)) await new Promise<void>((resolve) => this.out.once('drain', resolve));
  }

  /** The JSON document (JSON mode). */
  emitJson(value: unknown): void {
    this.clearProgress();
    this.out.write(`${JSON.stringify(value, null, 2)}\n`);
  }
}

function progressText(done: number, total: number | undefined, rate: number, left: number | undefined, bar: boolean): string {
  const speed = rate > 0 ? `${formatBytes(rate)}/s` : '';
  if (total === undefined || total <= 0) return [`${formatBytes(done)} written`, speed].filter(Boolean).join(', ');
  const frac = Math.min(1, done / total);
  const pct = `${(frac * 100).toFixed(0).padStart(3)}%`;
  const eta = left === undefined ? '' : `ETA ${formatDuration(left)}`;
  if (!bar) return `${pct.trim()} of ${formatBytes(total)} read${speed ? `, ${speed}` : ''}${eta ? `, ${eta}` : ''}`;
  const width = 30;
  const filled = Math.round(frac * width);
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${pct} ${formatBytes(done)} / ${formatBytes(total)}  ${speed}  ${eta}`.trimEnd();
}

/** 75 → "1 min 15 s". */
function formatDuration(seconds: number): string {
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${String(s % 60).padStart(2, '0')} s`;
  return `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, '0')} min`;
}
