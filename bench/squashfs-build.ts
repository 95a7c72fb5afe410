/**
 * Builds one squashfs image with the native writer, the way `avocado ext image` does (walk, then
 * write), without a project around it. Used by squashfs-bench so that it times the writer alone.
 *
 *   node dist/bench/squashfs-build.js SYSROOT IMAGE [gzip|zstd|xz|lz4] [THREADS]
 */
import { walkSysroot } from '../src/sysroot/walk.js';
import { Exclusions } from '../src/sysroot/exclude.js';
import { writeSquashfs } from '../src/formats/squashfs/writer.js';
import type { CodecName } from '../src/compress/codec.js';

const [sysroot, image, compressor = 'gzip', threads] = process.argv.slice(2);
if (!sysroot || !image) {
  console.error('usage: squashfs-build SYSROOT IMAGE [gzip|zstd|xz|lz4] [THREADS]');
  process.exit(2);
}
const { tree } = await walkSysroot(sysroot, new Exclusions([]), '');
const summary = await writeSquashfs(tree, image, {
  compressor: compressor as CodecName,
  time: 1700000000,
  threads: threads ? Number(threads) : undefined,
});
console.log(JSON.stringify(summary));
