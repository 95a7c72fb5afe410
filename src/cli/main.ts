#!/usr/bin/env node
/**
 * Entry point: parse the command line, run the command, map errors to exit statuses
 * (0 ok, 1 build failed, 2 usage/configuration, 130 interrupted), clean up on Ctrl-C.
 */
import { CommanderError } from 'commander';
import { removeTempsSync } from '../util/cleanup.js';
import { packageName, packageVersion } from '../util/version.js';
import { ExitCode, InterruptedError, isAvocadoError, BuildError } from '../util/errors.js';
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
  const program = buildProgram(`${packageName()} ${packageVersion()}`, async (name, args) => {
    const mod = await COMMANDS[name]!();
    await mod.default(ctx, args);
  });
  for (const cmd of allCommands(program)) {
    cmd.exitOverride();
    cmd.configureOutput({ outputError: (str) => ctx.reporter.error(str.trim().replace(/^error: /, '')) });
  }

  try {
    await program.parseAsync(helpAsFlag(argv), { from: 'user' });
    return ExitCode.ok;
  } catch (e) {
    return report(e, ctx);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/** `avocado help ext image` means `avocado ext image --help` (commander resolves only one level). */
function helpAsFlag(argv: string[]): string[] {
  return argv[0] === 'help' && argv.length > 1 ? [...argv.slice(1), '--help'] : argv;
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
  if (isAvocadoError(e)) {
    r.error(e.line, e instanceof BuildError ? e.details : undefined, r.verboseOn ? e.stack : undefined);
    if (r.json) r.emitJson({ schemaVersion: 1, ok: false, error: { message: e.line, exitCode: e.exitCode, ...(e instanceof BuildError && e.details ? { details: e.details } : {}) } });
    return e.exitCode;
  }
  const err = e as NodeJS.ErrnoException;
  const what = err?.code && err.path ? `${err.code} on ${err.path}` : err?.message ?? String(e);
  r.error(`internal error: ${what}${r.verboseOn ? '' : ' (run with --verbose for the stack)'}`, undefined, r.verboseOn ? err?.stack : undefined);
  if (r.json) r.emitJson({ schemaVersion: 1, ok: false, error: { message: String(err?.message ?? e), exitCode: ExitCode.buildFailed } });
  return ExitCode.buildFailed;
}

const code = await main(process.argv.slice(2));
process.exitCode = code;
