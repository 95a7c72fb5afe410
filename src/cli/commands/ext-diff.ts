/** `avocado ext diff A B`: exit 0 byte-identical, 1 different, 2 trouble (as diff(1)). */
import type { Command } from 'commander';
import { openImage } from '../../formats/open-image.js';
import type { ImageReader } from '../../formats/image-reader.js';
import { formatDifference } from '../../image/compare.js';
import { diffImages, type ImageDiff } from '../../image/diff.js';
import { AvocadoError, ExitCode, InterruptedError, ReportedFailure, isAvocadoError } from '../../util/errors.js';
import type { CommandContext } from '../main.js';
import type { ExtReadOptions } from '../program.js';
import { resolveImageArgument, setupReporter } from './shared.js';

/** diff(1)'s "trouble": whatever kept the images from being compared. */
class DiffTrouble extends AvocadoError {
  readonly exitCode = ExitCode.usage;
}

export default async function extDiff(ctx: CommandContext, args: unknown[]): Promise<void> {
  const [argA, argB, , cmd] = args as [string, string, ExtReadOptions, Command];
  const opts = cmd.optsWithGlobals<ExtReadOptions>();
  const reporter = setupReporter(ctx, opts);
  let diff: ImageDiff;
  const readers: ImageReader[] = [];
  try {
    const a = await resolveImageArgument(argA, ctx, opts, reporter);
    const b = await resolveImageArgument(argB, ctx, opts, reporter, a.project && a.volume ? { project: a.project, volume: a.volume } : undefined);
    readers.push(await openImage(a.path));
    readers.push(await openImage(b.path));
    const names = { a: argA, b: argB };
    diff = await diffImages(readers[0]!, readers[1]!, {
      signal: ctx.signal,
      onDifference: opts.json ? undefined : (d) => void reporter.print(formatDifference(d, names)),
    });
  } catch (e) {
    if (!isAvocadoError(e) || e instanceof InterruptedError || e.exitCode === ExitCode.usage) throw e;
    throw new DiffTrouble(e.message, e.hint, { cause: e });
  } finally {
    for (const r of readers) await r.close();
  }
  if (opts.json) reporter.emitJson({ schemaVersion: 1, ok: true, ...diff });
  else for (const line of diffText(diff, argA, argB)) await reporter.print(line);
  if (!diff.identical) throw new ReportedFailure('the images differ', ExitCode.buildFailed);
}

const hex = (n: number) => `0x${n.toString(16)}`;

function diffText(d: ImageDiff, nameA: string, nameB: string): string[] {
  if (d.identical) return [`${nameA} and ${nameB} are identical (sha256 ${d.a.sha256})`];
  const lines: string[] = [];
  for (const s of d.settings) lines.push(`setting ${s.attribute}: ${s.a} → ${s.b}`);
  for (const s of d.superblock) lines.push(`superblock ${s.attribute}: ${s.a} → ${s.b}`);
  if (d.bytes) {
    for (const r of d.bytes.ranges)
      lines.push(`bytes ${hex(r.start)}..${hex(r.end - 1)} differ: ${r.a === r.b ? r.a : `${r.a} in ${nameA}, ${r.b} in ${nameB}`}`);
    if (d.bytes.more) lines.push('… and more differing bytes');
    for (const m of d.bytes.moved)
      lines.push(`${m.what}: ${m.a.length} bytes at ${hex(m.a.start)} in ${nameA}, ${m.b.length} bytes at ${hex(m.b.start)} in ${nameB}`);
    if (d.bytes.moreMoved) lines.push('… and more regions moved or resized');
  }
  const n = d.entries.differences.length;
  const sizes = d.a.size === d.b.size ? `both ${d.a.size} bytes` : `${d.a.size} and ${d.b.size} bytes`;
  lines.push(
    n
      ? `${nameA} and ${nameB} differ in ${n} entr${n === 1 ? 'y' : 'ies'} (of ${d.entries.a} and ${d.entries.b}); ${sizes}`
      : `${nameA} and ${nameB} hold the same ${d.entries.a} entries but differ in bytes (${sizes}): ${d.settings.length || d.superblock.length ? 'see the settings and superblock fields above' : 'the layout differs, see above'}`,
  );
  return lines;
}
