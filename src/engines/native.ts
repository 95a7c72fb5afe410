/**
 * The `native` engine: avocado's own writers, no external tools. squashfs is written by
 * src/formats/squashfs, EROFS by src/formats/erofs.
 */
import type { CodecName } from '../compress/codec.js';
import type { Compressor } from '../formats/filesystems.js';
import { writeSquashfs } from '../formats/squashfs/writer.js';
import { BuildError } from '../util/errors.js';
import type { BuildRequest, Engine } from './engine.js';
import { threadsText } from './threads.js';

export class NativeEngine implements Engine {
  readonly name = 'native' as const;

  constructor(_env: NodeJS.ProcessEnv = process.env) {}

  async prepare(req: BuildRequest): Promise<string> {
    if (req.filesystem.family === 'erofs') return (await import('./native-erofs.js')).describeErofsBuild(req);
    const codec = squashfsCodec(req.filesystem.compressor);
    // Load the compression library now, so that a missing one fails before any work.
    const { loadCodec } = await import('../compress/codec.js');
    const loaded = await loadCodec({ name: codec, blockSize: 131072 }).catch((e: Error) => {
      throw new BuildError(`cannot load the ${codec} compressor: ${e.message}`, 'reinstall avocado (npm install) so that its compression libraries are present');
    });
    return `native squashfs writer, ${codec} (${loaded.description}), ${threadsText(req)}`;
  }

  async build(req: BuildRequest): Promise<void> {
    if (req.filesystem.family === 'erofs') return (await import('./native-erofs.js')).buildErofs(req);
    const summary = await writeSquashfs(req.tree, req.output, {
      compressor: squashfsCodec(req.filesystem.compressor),
      time: req.sourceDateEpoch,
      signal: req.signal,
      progress: req.progress,
    });
    req.verbose(
      `squashfs: ${summary.inodes} inodes, ${summary.fragments} fragment blocks, ${summary.duplicates} duplicate files, ${summary.sparseBlocks} sparse blocks, ${summary.size} bytes`,
    );
  }
}

function squashfsCodec(c: Compressor): CodecName {
  if (c === 'gzip' || c === 'zstd' || c === 'xz' || c === 'lz4') return c;
  throw new BuildError(`the native squashfs writer has no ${c} compressor`);
}
