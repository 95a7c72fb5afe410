/** `avocado ext inspect IMAGE|NAME [--list | --mtree]`. */
import type { Command } from 'commander';
import { openImage } from '../../formats/open-image.js';
import type { ImageEntry } from '../../formats/image-reader.js';
import { inspectImage, isoTime, listLine, mtreeLine, type Inspection } from '../../image/inspect.js';
import { UsageError } from '../../util/errors.js';
import { formatBytes } from '../../util/reporter.js';
import { displayPath } from '../../sysroot/entry.js';
import type { CommandContext } from '../main.js';
import type { ExtInspectOptions } from '../program.js';
import { resolveImageArgument, setupReporter } from './shared.js';

export default async function extInspect(ctx: CommandContext, args: unknown[]): Promise<void> {
  const [arg, , cmd] = args as [string, ExtInspectOptions, Command];
  const opts = cmd.optsWithGlobals<ExtInspectOptions>();
  const reporter = setupReporter(ctx, opts);
  if (opts.list && opts.mtree) throw new UsageError('--list and --mtree are two listings', 'give one');
  const { path } = await resolveImageArgument(arg, ctx, opts, reporter);
  const reader = await openImage(path);
  try {
    if (opts.list || opts.mtree) {
      const entries: object[] = [];
      for await (const e of reader.entries()) {
        ctx.signal.throwIfAborted();
        if (opts.json) entries.push(await entryJson(e, opts.mtree === true, () => reader.content(e)));
        else await reporter.print(opts.mtree ? await mtreeLine(e, () => reader.content(e)) : listLine(e));
      }
      if (opts.json) reporter.emitJson({ schemaVersion: 1, ok: true, image: path, entries });
      return;
    }
    const result = await inspectImage(reader, { signal: ctx.signal });
    if (opts.json) reporter.emitJson({ schemaVersion: 1, ok: true, ...result });
    else for (const line of inspectionText(result)) await reporter.print(line);
  } finally {
    await reader.close();
  }
}

async function entryJson(e: ImageEntry, withDigest: boolean, content: () => AsyncIterable<Uint8Array>): Promise<object> {
  let sha256: string | undefined;
  if (withDigest && e.type === 'file') {
    const { createHash } = await import('node:crypto');
    const h = createHash('sha256');
    for await (const c of content()) h.update(c);
    sha256 = h.digest('hex');
  }
  return {
    path: `/${displayPath(e.path)}`,
    type: e.type,
    mode: e.mode.toString(8).padStart(4, '0'),
    uid: e.uid,
    gid: e.gid,
    mtime: e.mtime,
    ...(e.mtimeNsec ? { mtimeNsec: e.mtimeNsec } : {}),
    nlink: e.nlink,
    size: e.size,
    inode: e.inodeNumber,
    ...(e.target ? { target: displayPath(e.target) } : {}),
    ...(e.rdev ? { rdev: e.rdev } : {}),
    ...(e.xattrs.length ? { xattrs: Object.fromEntries(e.xattrs.map((x) => [displayPath(x.name), x.value.toString('base64')])) } : {}),
    ...(sha256 ? { sha256 } : {}),
  };
}

/** Block and cluster sizes, powers of two: `128 KiB`. */
const kib = (n: number) => (n % 1024 === 0 ? `${n / 1024} KiB` : `${n} bytes`);

function inspectionText(r: Inspection): string[] {
  const f = r.format;
  const options = Object.entries(f.compressorOptions).map(([k, v]) => `${k} ${v}`).join(', ');
  const e = r.entries;
  const counts = [
    `${e.directories} director${e.directories === 1 ? 'y' : 'ies'}`,
    `${e.files} file${e.files === 1 ? '' : 's'} (${formatBytes(e.fileBytes)})`,
    `${e.symlinks} symlink${e.symlinks === 1 ? '' : 's'}`,
    ...(e.devices ? [`${e.devices} device${e.devices === 1 ? '' : 's'}`] : []),
    ...(e.fifos ? [`${e.fifos} fifo${e.fifos === 1 ? '' : 's'}`] : []),
    ...(e.sockets ? [`${e.sockets} socket${e.sockets === 1 ? '' : 's'}`] : []),
  ];
  const extra = [
    ...(e.hardLinkedInodes ? [`${e.hardLinkedInodes} hard-linked file${e.hardLinkedInodes === 1 ? '' : 's'}`] : []),
    ...(e.withXattrs ? [`${e.withXattrs} with xattrs`] : []),
  ];
  const time = (t: number, ns = 0) => `${isoTime(t)}${ns ? `.${String(ns).padStart(9, '0')}` : ''} UTC (${t})`;
  const entryTimes =
    r.times.oldestEntry === undefined ? '' : r.times.oldestEntry === r.times.newestEntry ? `; every entry ${r.times.oldestEntry === r.times.image ? 'the same' : time(r.times.oldestEntry)}` : `; entries from ${time(r.times.oldestEntry)} to ${time(r.times.newestEntry!)}`;
  const lines = [
    r.image.path,
    `  format    ${f.family}, ${f.compressor === 'none' ? 'uncompressed' : f.compressor}${options ? ` (${options})` : ''}, ${kib(f.blockSize)} blocks${f.clusterSize ? `, clusters up to ${kib(f.clusterSize)}` : ''}`,
    `  size      ${formatBytes(r.image.size)} (${r.image.size} bytes; the filesystem says ${f.bytesUsed})`,
    `  sha256    ${r.image.sha256}`,
    `  entries   ${e.total}: ${counts.join(', ')}${extra.length ? `; ${extra.join(', ')}` : ''}; ${f.inodeCount} inodes`,
    `  time      ${time(r.times.image, f.timeNsec)}${entryTimes}`,
    `  kernel    Linux ≥ ${f.kernelMin.version} (${f.kernelMin.because})`,
    ...(f.features.length ? [`  features  ${f.features.join(', ')}`] : []),
  ];
  for (const rf of r.releaseFiles) lines.push(`  ${rf.type.padEnd(8)}  ${rf.path}: ${Object.entries(rf.fields).map(([k, v]) => `${k}=${v}`).join(' ')}`);
  if (r.merges) lines.push(`  systemd   ${r.releaseFiles.map((rf) => `systemd-${rf.type}`).join(' and ')} will merge it as ${r.imageName}`);
  for (const w of r.systemd) lines.push(`  ${r.merges ? 'note' : 'systemd'}${r.merges ? '      ' : '   '}${w}`);
  return lines;
}
