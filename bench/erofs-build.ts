/**
 * Builds one EROFS image with the native writer, the way `avocado ext image` does (walk, then
 * write), without a project around it. Used by erofs-bench so that it times the writer alone.
 *
 *   node dist/bench/erofs-build.js SYSROOT IMAGE [none|lz4hc|zstd] [CLUSTER_SIZE] [THREADS]
 */
import { walkSysroot } from '../src/sysroot/walk.js';
import { Exclusions } from '../src/sysroot/exclude.js';
import { erofsCompression, type ErofsCompressor } from '../src/formats/erofs/compression.js';
import { writeErofs } from '../src/formats/erofs/writer.js';

const [sysroot, image, compressor = 'none', clusterSize, threads] = process.argv.slice(2);
if (!sysroot || !image) {
  console.error('usage: erofs-build SYSROOT IMAGE [none|lz4hc|zstd] [CLUSTER_SIZE] [THREADS]');
  process.exit(2);
}
const { tree } = await walkSysroot(sysroot, new Exclusions([]), '');
const summary = await writeErofs(tree, image, {
  compression: compressor === 'none' ? undefined : erofsCompression(compressor as ErofsCompressor, clusterSize ? Number(clusterSize) : undefined),
  time: 1700000000,
  threads: threads ? Number(threads) : undefined,
});
console.log(JSON.stringify(summary));
