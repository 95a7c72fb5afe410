#!/usr/bin/env node
/**
 * Entry point: parse the command line, run the command, map errors to exit statuses
 * (0 ok, 1 build failed, 2 usage/configuration, 130 interrupted), clean up on Ctrl-C.
 */
import { CommanderError, type Command } from 'commander';
import { removeTempsSync } from '../util/cleanup.js';
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
      process.exit(signal === 'SIGTERM' ? 143 : ExitCode.interrupted);
    }
    controller.abort(new InterruptedError(signal));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const ctx: CommandContext = {
    signal: controller.signal,
    cwd: process.cwd(),
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
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
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

function report(e: unknown, ctx: CommandContext): number {
  const r = ctx.reporter;
  if (e instanceof CommanderError) {
    if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version') return ExitCode.ok;
    // 'commander.help': no command given, so the help went to stderr as a usage error.
    // commander has printed the message already
    if (r.json) r.emitJson({ schemaVersion: 1, ok: false, error: { message: e.message.replace(/^error: /, ''), exitCode: ExitCode.usage } });
    return ExitCode.usage;
  }
  if (ctx.signal.aborted && (e instanceof InterruptedError || !isAvocadoError(e))) {
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

// A reader that stops early (`avocado --help | head`) is not an error.
for (const stream of [process.stdout, process.stderr])
  stream.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw e;
  });

const code = await main(process.argv.slice(2));
process.exitCode = code;
