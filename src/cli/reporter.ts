/**
 * Everything the user sees. Text mode: one line per step on stderr, warnings, a progress line on
 * a TTY only, and a final summary line. JSON mode: the same steps on stderr and exactly one JSON
 * object on stdout. Colour only on a TTY and never with NO_COLOR.
 */
import { styleText } from 'node:util';
import { formatBytes, type Reporter as StepReporter } from '../util/reporter.js';

type Style = Parameters<typeof styleText>[0];

export interface ReporterOptions {
  readonly json: boolean;
  readonly verbose: boolean;
  readonly color?: boolean;
  readonly stderr?: NodeJS.WriteStream;
  readonly stdout?: NodeJS.WriteStream;
  readonly env?: Readonly<Record<string, string | undefined>>;
}

export class Reporter implements StepReporter {
  readonly json: boolean;
  readonly verboseOn: boolean;
  private readonly err: NodeJS.WriteStream;
  private readonly out: NodeJS.WriteStream;
  private readonly color: boolean;
  private readonly showProgress: boolean;
  private progressShown = false;
  private lastProgress = 0;
  private readonly started = performance.now();

  constructor(opts: ReporterOptions) {
    const env = opts.env ?? process.env;
    this.json = opts.json;
    this.verboseOn = opts.verbose;
    this.err = opts.stderr ?? process.stderr;
    this.out = opts.stdout ?? process.stdout;
    const tty = this.err.isTTY === true;
    this.color = opts.color !== false && (env.FORCE_COLOR ? env.FORCE_COLOR !== '0' : tty && !env.NO_COLOR && env.TERM !== 'dumb');
    this.showProgress = tty && !env.CI && env.TERM !== 'dumb' && !opts.verbose;
  }

  private paint(style: Style, text: string): string {
    return this.color ? styleText(style, text) : text;
  }

  private line(text: string): void {
    this.clearProgress();
    this.err.write(`${text}\n`);
  }

  step(message: string): void {
    const at = this.verboseOn ? this.paint('dim', ` [${((performance.now() - this.started) / 1000).toFixed(2)}s]`) : '';
    this.line(`${this.paint('dim', '›')} ${message}${at}`);
  }

  warn(message: string): void {
    this.line(`${this.paint('yellow', 'warning:')} ${message}`);
  }

  verbose(message: string): void {
    if (this.verboseOn) this.line(this.paint('dim', `  ${message} [${((performance.now() - this.started) / 1000).toFixed(2)}s]`));
  }

  error(message: string, details?: string, stack?: string): void {
    this.line(`${this.paint('red', 'error:')} ${message}`);
    if (details) for (const l of details.split('\n')) this.err.write(this.paint('dim', `  | ${l}`) + '\n');
    if (stack) this.err.write(this.paint('dim', stack) + '\n');
  }

  progress(done: number, total?: number): void {
    if (!this.showProgress) return;
    const now = performance.now();
    if (now - this.lastProgress < 100 && (total === undefined || done < total)) return;
    this.lastProgress = now;
    const secs = ((now - this.started) / 1000).toFixed(1);
    let text: string;
    if (total) {
      const frac = Math.min(1, done / total);
      const width = 30;
      const filled = Math.round(frac * width);
      text = `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${(frac * 100).toFixed(0).padStart(3)}% ${formatBytes(done)} / ${formatBytes(total)}  ${secs}s`;
    } else {
      text = `writing… ${formatBytes(done)}  ${secs}s`;
    }
    this.err.write(`\r\x1b[2K${this.paint('cyan', text)}`);
    this.progressShown = true;
  }

  private clearProgress(): void {
    if (this.progressShown) {
      this.err.write('\r\x1b[2K');
      this.progressShown = false;
    }
  }

  /** The final line (text mode). */
  done(message: string): void {
    this.line(`${this.paint('green', '✔')} ${message}`);
  }

  /** The JSON document (JSON mode). */
  emitJson(value: unknown): void {
    this.clearProgress();
    this.out.write(`${JSON.stringify(value, null, 2)}\n`);
  }
}
