#!/usr/bin/env node
/**
 * Entry point: parse the command line, run the command, map errors to exit statuses
 * (0 ok, 1 build failed, 2 usage/configuration, 130 interrupted), clean up on Ctrl-C.
 */
import { CommanderError, type Command } from 'commander';
import { removeTempsSync } from '../util/cleanup.js';
import { explainFsError } from '../util/fs-errors.js';
import { packageName, packageVersion } from '../util/version.js';
import { ExitCode, InterruptedError, isAvocadoError, BuildError, ReportedFailure, UsageError } from '../util/errors.js';
import { buildProgram } from './program.js';
import { Reporter } from './reporter.js';

export interface CommandContext {
  readonly signal: AbortSignal;
  readonly cwd: string;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Set by the command once it knows --json / --verbose, so that errors are reported the same way. */
  reporter: Reporter;
}

const COMMANDS: Record<string, () => Promise<{ default: (ctx: CommandContext, args: unknown[]) => Promise<void> }>> = {
  'ext-image': () => import('./commands/ext-image.js'),
  'ext-build': () => import('./commands/ext-build.js'),
  'ext-clean': () => import('./commands/ext-clean.js'),
  'ext-inspect': () => import('./commands/ext-inspect.js'),
  'ext-diff': () => import('./commands/ext-diff.js'),
  'ext-verify': () => import('./commands/ext-verify.js'),
  completion: () => import('./commands/completion.js'),
  complete: () => import('./commands/complete.js'),
};

async function main(argv: string[]): Promise<number> {
  const controller = new AbortController();
  let interrupts = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    interrupts++;
    if (interrupts > 1) {
      // Second Ctrl-C: stop waiting for children to wind down.
      removeTempsSync();
      process.exit(new InterruptedError(signal).exitCode);
    }
    controller.abort(new InterruptedError(signal));
  };
  for (const s of HANDLED_SIGNALS) process.on(s, onSignal);

  const ctx: CommandContext = {
    signal: controller.signal,
    get cwd() {
      return workingDirectory();
    },
    env: process.env,
    reporter: new Reporter({ json: argv.includes('--json'), verbose: argv.includes('--verbose') || argv.includes('-v') }),
  };
  const program = buildProgram(async (name, args) => {
    const mod = await COMMANDS[name]!();
    await mod.default(ctx, args);
  });
  for (const cmd of allCommands(program)) {
    cmd.exitOverride();
    cmd.configureOutput({ outputError: (str) => ctx.reporter.error(str.trim().replace(/^error: /, '')) });
  }

  try {
    const topLevel = argv.slice(0, argv.findIndex((a) => !a.startsWith('-')) >>> 0);
    if (topLevel.includes('-V') || topLevel.includes('--version')) {
      process.stdout.write(`${await versionText(topLevel.includes('--verbose') || topLevel.includes('-v'))}\n`);
      return ExitCode.ok;
    }
    await program.parseAsync(helpAsFlag(argv, program), { from: 'user' });
    return ExitCode.ok;
  } catch (e) {
    return report(e, ctx);
  } finally {
    for (const s of HANDLED_SIGNALS) process.off(s, onSignal);
  }
}

/** Ctrl-C, `kill`, and the terminal closing: each stops the build and removes its temporaries. */
const HANDLED_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

/** The working directory, read when first needed: commands that never resolve a relative path work without one. */
function workingDirectory(): string {
  try {
    return process.cwd();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    throw new UsageError(
      'the working directory no longer exists (it was removed after the shell entered it)',
      'cd to an existing directory: relative paths and the search for avocado.yaml start there',
    );
  }
}

/**
 * `avocado help [COMMAND...]` means `avocado [COMMAND...] --help` (commander resolves only one
 * level, and exits 1 for an unknown one): a command that does not exist is a usage error.
 */
function helpAsFlag(argv: string[], program: Command): string[] {
  if (argv[0] !== 'help') return argv;
  let cmd = program;
  for (const word of argv.slice(1)) {
    const sub = cmd.commands.find((c) => c.name() === word || c.aliases().includes(word));
    if (!sub)
      throw new UsageError(
        `avocado help: no command '${[...argv.slice(1, argv.indexOf(word)), word].join(' ')}'`,
        `commands: ${cmd.commands.filter((c) => !(c as unknown as { _hidden?: boolean })._hidden).map((c) => c.name()).join(', ')}`,
      );
    cmd = sub;
  }
  return [...argv.slice(1), '--help'];
}

/** `--version`; with `--verbose` also Node's and every compression library's. */
async function versionText(verbose: boolean): Promise<string> {
  const lines = [`${packageName()} ${packageVersion()}`];
  if (!verbose) return lines[0]!;
  lines.push(`node ${process.version} (${process.platform}-${process.arch})`);
  const { loadCodec } = await import('../compress/codec.js');
  for (const [name, used] of [['gzip', 'squashfs'], ['zstd', 'squashfs-zst; erofs-zst at level 3'], ['xz', 'squashfs-xz'], ['lz4', 'squashfs-lz4']] as const) {
    const codec = await loadCodec({ name, blockSize: 131072 }).then(
      (c) => c.description,
      (e: Error) => `not loadable: ${e.message}`,
    );
    lines.push(`${name} (${used}): ${codec}`);
  }
  lines.push('lz4hc (erofs-lz4): avocado\'s own fixed-output LZ4HC encoder');
  return lines.join('\n');
}

function allCommands(cmd: import('commander').Command): import('commander').Command[] {
  return [cmd, ...cmd.commands.flatMap(allCommands)];
}

function report(thrown: unknown, ctx: CommandContext): number {
  const r = ctx.reporter;
  const e = isAvocadoError(thrown) ? thrown : (explainFsError(thrown) ?? thrown);
  if (e instanceof CommanderError) {
    if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version') return ExitCode.ok;
    // 'commander.help': no command given, so the help went to stderr as a usage error.
    // commander has printed the message already
    if (r.json) r.emitJson({ schemaVersion: 1, ok: false, error: { message: e.message.replace(/^error: /, ''), exitCode: ExitCode.usage } });
    return ExitCode.usage;
  }
  if (ctx.signal.aborted && (thrown instanceof InterruptedError || !isAvocadoError(thrown))) {
    const code = ctx.signal.reason instanceof InterruptedError ? ctx.signal.reason.exitCode : ExitCode.interrupted;
    r.error('interrupted; temporary files removed, previous image unchanged');
    if (r.json) r.emitJson({ schemaVersion: 1, ok: false, error: { message: 'interrupted', exitCode: code } });
    return code;
  }
  if (e instanceof ReportedFailure) return e.exitCode;
  if (isAvocadoError(e)) {
    r.error(e.line, e instanceof BuildError ? e.details : undefined, r.verboseOn ? e.stack : undefined);
    if (r.json)
      r.emitJson({ schemaVersion: 1, ok: false, error: { message: e.line, exitCode: e.exitCode, ...(e instanceof BuildError && e.details ? { details: e.details } : {}) }, warnings: r.warnings });
    return e.exitCode;
  }
  const err = e as NodeJS.ErrnoException;
  const what = err?.code && err.path ? `${err.code} on ${err.path}` : err?.message ?? String(e);
  r.error(`internal error: ${what}${r.verboseOn ? '' : ' (run with --verbose for the stack)'}`, undefined, r.verboseOn ? err?.stack : undefined);
  if (r.json) r.emitJson({ schemaVersion: 1, ok: false, error: { message: String(err?.message ?? e), exitCode: ExitCode.buildFailed } });
  return ExitCode.buildFailed;
}

// A reader that stops early (`avocado --help | head`) is not an error; any other failure to write
// the output (a full disk, an I/O error) is one, given in one line where it can still be seen.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  process.stderr.write(`error: cannot write to standard output: ${describeWriteError(e)}; ${e.code === 'ENOSPC' ? 'free some space where it goes, or send it elsewhere' : 'send it elsewhere'}\n`);
  process.exit(ExitCode.buildFailed);
});
process.stderr.on('error', (e: NodeJS.ErrnoException) => {
  process.exit(e.code === 'EPIPE' ? (process.exitCode ?? 0) : ExitCode.buildFailed);
});

function describeWriteError(e: NodeJS.ErrnoException): string {
  if (e.code === 'ENOSPC') return 'no space left on the device (ENOSPC)';
  return e.code ? `${e.code} (${e.message.replace(/^\w+: /, '').replace(/, write$/, '')})` : e.message;
}

const code = await main(process.argv.slice(2));
process.exitCode = code;
