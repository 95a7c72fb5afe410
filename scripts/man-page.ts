/**
 * avocado(1), generated from the commander program (src/cli/program.ts) so that it never drifts
 * from `--help`: every command with its usage, arguments and options (terms and descriptions as
 * commander's own help prints them), the text each command adds after its help, its examples and
 * the exit statuses. What no help text carries — environment variables and files — is written
 * here; test/man-page checks that every variable the code reads is listed.
 */
import { Help, type Command } from 'commander';

export interface ManPageInput {
  readonly program: Command;
  readonly version: string;
}

/** Environment variables, in the order a user meets them. */
export const ENVIRONMENT: readonly (readonly [string, string])[] = [
  ['AVOCADO_TARGET', 'The target when -t/--target is not given; default_target in avocado.yaml comes after it.'],
  ['AVOCADO_TARGET_BOARD', 'The board for {{ avocado.target.board }} when --target-board is not given; the runtime\'s target_board, then default_target_board in avocado.yaml come after it, then the target.'],
  ['AVOCADO_RUNTIME', 'The runtime (for {{ avocado.runtime }} and the board) when -r/--runtime is not given; default_runtime, then the only entry of runtimes: in avocado.yaml come after it.'],
  ['AVOCADO_ENGINE', 'The engine (native, tools or container) when --engine is not given; engine: in avocado.yaml comes after it.'],
  ['AVOCADO_VOLUME', 'The state directory when --volume is not given; the default is _avocado/ next to avocado.yaml.'],
  ['AVOCADO_CONTAINER_TOOL', 'docker or podman, for the container engine; by default the first one installed whose engine answers.'],
  ['NO_COLOR', 'When set and not empty, no colours (as --no-color).'],
  ['FORCE_COLOR', 'Colours even when standard error is not a terminal; FORCE_COLOR=0 turns them off.'],
  ['TERM', 'TERM=dumb turns colours and the progress display off.'],
  ['CI', 'When set, no progress display (it is drawn only on a terminal anyway).'],
  ['SOURCE_DATE_EPOCH', 'Not read: the times in an image come from source_date_epoch in avocado.yaml, and the variable is removed from the environment of mksquashfs and mkfs.erofs so that it cannot change them.'],
];

const FILES: readonly (readonly [string, string])[] = [
  ['avocado.yaml', 'The project file: in the current directory or the nearest parent, or given with -C/--config. Its JSON Schema, for editors, is schema/avocado.schema.json in the npm package.'],
  ['_avocado/<target>/extensions/<NAME>/', 'The sysroot of an extension: what ext build writes and ext image reads (below the volume, by default _avocado/ next to avocado.yaml).'],
  ['_avocado/<target>/output/extensions/<NAME>-<version>.raw', 'The image built by ext image.'],
  ['.avocado-state', 'Written by the Avocado CLI: when it names a docker or podman volume that exists, that volume is used instead of _avocado/.'],
];

const SEE_ALSO = 'systemd-sysext(8), mksquashfs(1), mkfs.erofs(1), unsquashfs(1), fsck.erofs(1)';

/** Text to roff: backslashes, dashes (as \- so they copy as ASCII), non-ASCII as \[uXXXX]. */
export function roffEscape(text: string): string {
  let out = '';
  for (const ch of text) {
    const code = ch.codePointAt(0)!;
    if (ch === '\\') out += '\\e';
    else if (ch === '-') out += '\\-';
    else if (code > 126) out += `\\[u${code.toString(16).toUpperCase().padStart(4, '0')}]`;
    else out += ch;
  }
  return out;
}

/** One line of roff text: escaped, and protected where it would start with a control character. */
function line(text: string): string {
  const escaped = roffEscape(text);
  return /^[.']/.test(escaped) ? `\\&${escaped}` : escaped;
}

/** `-C, --config <CONFIG>` → words in bold, `<VALUE>` and `[optional]` parts in italics. */
function term(text: string): string {
  return text
    .split(/(<[^>]+>|\[[^\]]+\])/)
    .map((part) => (/^[<[]/.test(part) ? `\\fI${roffEscape(part)}\\fR` : part.replace(/[^\s,]+/g, (word) => `\\fB${roffEscape(word)}\\fR`)))
    .join('');
}

function allCommands(cmd: Command): Command[] {
  return [cmd, ...cmd.commands.flatMap(allCommands)];
}

/** The text a command prints after its help (its addHelpText('after', ...)). */
function afterText(cmd: Command): string {
  let captured = '';
  const saved = cmd.configureOutput();
  cmd.configureOutput({ ...saved, writeOut: (s) => (captured += s), writeErr: (s) => (captured += s) });
  try {
    cmd.outputHelp();
  } finally {
    cmd.configureOutput(saved);
  }
  const help = cmd.helpInformation();
  const at = captured.indexOf(help);
  return at < 0 ? '' : captured.slice(at + help.length);
}

interface AfterParts {
  readonly paragraphs: string[][];
  readonly examples: string[];
  readonly exitStatus?: string;
}

function splitAfterText(text: string): AfterParts {
  const paragraphs: string[][] = [];
  const examples: string[] = [];
  let exitStatus: string | undefined;
  for (const block of text.split(/\n\s*\n/)) {
    const lines = block.split('\n').filter((l) => l.trim() !== '');
    if (!lines.length) continue;
    if (/^Examples:\s*$/.test(lines[0]!)) examples.push(...lines.slice(1).map((l) => l.trim()));
    else if (/^Exit status:/.test(lines[0]!)) exitStatus = lines.join(' ');
    else paragraphs.push(lines);
  }
  return { paragraphs, examples, exitStatus };
}

/**
 * Help paragraphs: unindented lines are filled text, indented "term   description" lines become
 * tagged paragraphs, other indented lines (commands, mostly) are kept as they are.
 */
function renderParagraph(lines: string[]): string[] {
  const out = ['.PP'];
  let mode: 'text' | 'pre' | 'tagged' = 'text';
  const switchTo = (next: typeof mode) => {
    if (mode === next) return;
    if (mode === 'pre') out.push('.fi', '.RE');
    if (next === 'pre') out.push('.RS 4', '.nf');
    if (next === 'text' && mode === 'tagged') out.push('.PP');
    mode = next;
  };
  for (const l of lines) {
    const tagged = /^\s{2,}(\S+)\s{2,}(\S.*)$/.exec(l);
    if (tagged) {
      switchTo('tagged');
      out.push('.TP 16', `\\fB${line(tagged[1]!)}\\fR`, line(tagged[2]!));
    } else if (/^\s{2,}/.test(l)) {
      switchTo('pre');
      out.push(line(l.trim()));
    } else {
      switchTo('text');
      out.push(line(l));
    }
  }
  switchTo('text');
  return out;
}

/** "Exit status: 0 success, 1 build failed, ..." → one tagged paragraph per status. */
function renderExitStatus(text: string): string[] {
  const body = text.replace(/^Exit status:\s*/, '').replace(/\.\s*$/, '');
  const out: string[] = [];
  for (const item of body.split(/,\s+(?=\d)/)) {
    const m = /^(\d+)\s+(.*)$/.exec(item.trim());
    if (!m) throw new Error(`man page: cannot read the exit status '${item}' in: ${text}`);
    out.push('.TP', `.B ${m[1]}`, line(m[2]!));
  }
  return out;
}

/** "avocado ext image my-app     what it does" → the command in bold, the comment below it. */
function renderExample(example: string): string[] {
  const [command, comment] = example.split(/\s{3,}/, 2);
  const out = ['.PP', `\\fB${line(command!)}\\fR`];
  if (comment) out.push('.RS 4', line(comment), '.RE');
  return out;
}

const sentence = (text: string) => `${text.charAt(0).toUpperCase()}${text.slice(1)}${/[.!?]$/.test(text) ? '' : '.'}`;

export function manPage({ program, version }: ManPageInput): string {
  const help = new Help();
  const commands = allCommands(program);
  const out: string[] = [
    `.TH AVOCADO 1 "" "avocado-ext ${roffEscape(version)}" "User Commands"`,
    '.nh',
    '.ad l',
    '.SH NAME',
    `avocado \\- ${line(program.description().replace(/^./, (c) => c.toLowerCase()))}`,
    '.SH SYNOPSIS',
  ];
  const runnable = commands.filter((c) => c !== program && !c.commands.length);
  for (const cmd of [program, ...runnable]) out.push(`${term(help.commandUsage(cmd))}`, '.br');
  out.push(`${term('avocado help [command...]')}`);

  out.push(
    '.SH DESCRIPTION',
    line(`${program.description()}: the ext image command of the Avocado CLI, with the same avocado.yaml, flags and output names, reproducible bit for bit and without an SDK container. ext build writes an extension's overlay and release files into its sysroot; ext image turns the sysroot into a read-only squashfs or EROFS image that systemd-sysext or systemd-confext merges.`),
  );

  const examples: string[] = [];
  let exitStatus: string | undefined;
  const globalParts = splitAfterText(afterText(program));
  examples.push(...globalParts.examples);
  exitStatus = globalParts.exitStatus;

  out.push('.SH OPTIONS', line('These options apply to every command.'));
  for (const option of help.visibleOptions(program)) out.push('.TP', term(help.optionTerm(option)), line(help.optionDescription(option)));
  for (const paragraph of globalParts.paragraphs) out.push(...renderParagraph(paragraph));

  out.push('.SH COMMANDS');
  for (const cmd of runnable) {
    out.push(`.SS ${line(`"${help.commandUsage(cmd)}"`)}`, line(sentence(help.commandDescription(cmd))));
    const args = help.visibleArguments(cmd);
    if (args.length) {
      out.push('.PP', 'Arguments:');
      for (const arg of args) out.push('.TP', `\\fI${roffEscape(help.argumentTerm(arg))}\\fR`, line(help.argumentDescription(arg)));
    }
    const options = help.visibleOptions(cmd);
    if (options.length) {
      out.push('.PP', 'Options:');
      for (const option of options) out.push('.TP', term(help.optionTerm(option)), line(help.optionDescription(option)));
    }
    const parts = splitAfterText(afterText(cmd));
    for (const paragraph of parts.paragraphs) out.push(...renderParagraph(paragraph));
    examples.push(...parts.examples);
    exitStatus ??= parts.exitStatus;
  }
  out.push(
    `.SS ${line('"avocado help [command...]"')}`,
    line('Prints the help of a command, e.g. avocado help ext image (the same as avocado ext image --help).'),
  );

  out.push('.SH EXAMPLES');
  const seen = new Set<string>();
  for (const e of examples) {
    const command = e.split(/\s{3,}/)[0]!;
    if (!seen.has(command)) out.push(...renderExample(e));
    seen.add(command);
  }

  if (!exitStatus) throw new Error('man page: no "Exit status:" line in the help of any command');
  out.push('.SH EXIT STATUS', ...renderExitStatus(exitStatus));

  out.push('.SH ENVIRONMENT');
  for (const [name, text] of ENVIRONMENT) out.push('.TP', `.B ${name}`, line(text));
  out.push('.SH FILES');
  for (const [name, text] of FILES) out.push('.TP', `.I ${line(name)}`, line(text));
  out.push('.SH SEE ALSO', line(SEE_ALSO));
  return `${out.join('\n')}\n`;
}
