/**
 * The native engine's EROFS builds: a build request's filesystem value and `erofs_cluster_size`
 * turned into writer options, the line the build prints, and the summary shown with --verbose.
 */
import type { BuildRequest } from './engine.js';
import { threadsText } from './threads.js';
import { BuildError } from '../util/errors.js';
import { EROFS_CLUSTER_SIZE } from '../formats/filesystems.js';
import { erofsCompression, type ErofsCompression } from '../formats/erofs/compression.js';
import { writeErofs } from '../formats/erofs/writer.js';

function compressionFor(req: BuildRequest): ErofsCompression | undefined {
  const c = req.filesystem.compressor;
  if (c === 'none') return undefined;
  if (c !== 'lz4hc' && c !== 'zstd') throw new BuildError(`the native EROFS writer has no ${c} compressor`);
  try {
    return erofsCompression(c, req.erofsClusterSize ?? EROFS_CLUSTER_SIZE.default);
  } catch (e) {
    throw new BuildError((e as Error).message, 'set erofs_cluster_size to 4096, 8192, … 262144');
  }
}

/** What will write the image, e.g. "native EROFS writer, LZ4HC, 4 KiB clusters, 2 threads; mounts on Linux ≥ 5.4". */
export async function describeErofsBuild(req: BuildRequest): Promise<string> {
  const compression = compressionFor(req);
  if (!compression) {
    const ignored = req.erofsClusterSize ? ' (erofs_cluster_size applies to compressed EROFS only)' : '';
    return `native EROFS writer, uncompressed${ignored}; mounts on Linux ≥ 5.4 (5.15 if a file has 1 MiB or more of zero blocks)`;
  }
  let what = 'LZ4HC';
  if (compression.compressor === 'zstd') {
    // Load the library now, so that a broken install fails before any work, and say which build runs.
    const { zstdLibrary } = await import('../compress/zstd.js');
    const zstd = await zstdLibrary().catch((e: Error) => {
      throw new BuildError(`cannot load the zstd compressor: ${e.message}`, 'reinstall avocado (npm install) so that its compression libraries are present');
    });
    what = `zstd level ${compression.codec.level} (${zstd.description})`;
  }
  return `native EROFS writer, ${what}, ${compression.clusterSize / 1024} KiB clusters, ${threadsText(req)}; mounts on Linux ≥ ${compression.kernelMin}`;
}

export async function buildErofs(req: BuildRequest): Promise<void> {
  const summary = await writeErofs(req.tree, req.output, {
    compression: compressionFor(req),
    time: req.sourceDateEpoch,
    signal: req.signal,
    progress: req.progress,
  });
  req.verbose(
    `erofs: ${summary.inodes} inodes, ${summary.compressedFiles} compressed files, ${summary.chunkedFiles} files stored without their zero blocks, ${summary.size} bytes; mounts on Linux ≥ ${summary.kernelMin}`,
  );
}
