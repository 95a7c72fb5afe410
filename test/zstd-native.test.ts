/**
 * The native zstd (zstd-napi, an optional dependency compiled at install) gives exactly the bytes
 * of the WebAssembly build it replaces: block by block over varied data, sizes and levels, for the
 * squashfs call and for EROFS's fixed-output trials, and image by image (the corner tree as
 * squashfs-zst and erofs-zst with each forced by AVOCADO_ZSTD); a native image mounts and matches
 * its sysroot. Also: AVOCADO_ZSTD chooses, `--verbose` says which ran, a bad value is an error.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadNative, loadWasm, zstdLibrary, ZSTD_ENV, type ZstdLibrary } from '../src/compress/zstd.js';
import { ZstdFixedOutput } from '../src/compress/zstd-fixed-output.js';
import { erofsCompression } from '../src/formats/erofs/compression.js';
import { writeErofs } from '../src/formats/erofs/writer.js';
import { writeSquashfs } from '../src/formats/squashfs/writer.js';
import { ALWAYS_EXCLUDED, Exclusions } from '../src/sysroot/exclude.js';
import { walkSysroot } from '../src/sysroot/walk.js';
import { makeCornerTree, pseudoRandom, pseudoText, writeReleaseFiles } from './helpers/corner-tree.js';
import { verifyErofsAgainst } from './helpers/erofs.js';
import { TestProject } from './helpers/project.js';
import { verifyImageAgainst } from './helpers/squashfs.js';
import { cannotMount } from './helpers/system.js';

const require = createRequire(import.meta.url);
const T = 1700000000;
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

function nativeMissing(): string | undefined {
  try {
    require('zstd-napi/binding');
    return undefined;
  } catch (e) {
    return `zstd-napi is not installed or not built (${(e as Error).message.split('\n')[0]}): npm install with a C compiler builds it`;
  }
}
const skip = nativeMissing();

/** Real files of this machine: every 5th executable, library or document up to 1 MiB, 40 at most. */
function machineFiles(): Buffer[] {
  const out: Buffer[] = [];
  for (const dir of ['/usr/bin', '/usr/lib/x86_64-linux-gnu', '/usr/share/perl5'].filter((d) => existsSync(d)))
    readdirSync(dir)
      .sort()
      .forEach((name, i) => {
        if (i % 5 || out.length >= 40) return;
        try {
          const st = statSync(join(dir, name));
          if (st.isFile() && st.size > 0 && st.size <= 1 << 20) out.push(readFileSync(join(dir, name)));
        } catch {
          // unreadable: not a sample
        }
      });
  return out;
}

function inputs(): [string, Buffer][] {
  const list: [string, Buffer][] = [
    ['empty', Buffer.alloc(0)],
    ['one byte', Buffer.from('x')],
    ['zeros 128 KiB', Buffer.alloc(131072)],
    ['zeros 1 MiB', Buffer.alloc(1 << 20)],
    ['random 4 KiB', pseudoRandom(4096, 1)],
    ['random 128 KiB', pseudoRandom(131072, 2)],
    ['random 1 MiB', pseudoRandom(1 << 20, 3)],
    ['text 5000', pseudoText(5000, 4)],
    ['text 128 KiB', pseudoText(131072, 5)],
    ['text 1 MiB', pseudoText(1 << 20, 6)],
    ['text then random', Buffer.concat([pseudoText(70000, 7), pseudoRandom(61072, 8)])],
  ];
  machineFiles().forEach((b, i) => list.push([`machine file ${i} (${b.length} bytes)`, b]));
  return list;
}

describe('native zstd against WebAssembly zstd', { skip }, () => {
  let native: ZstdLibrary;
  let wasm: ZstdLibrary;
  before(async () => {
    native = loadNative();
    wasm = await loadWasm('test');
  });

  it('names itself and its libzstd', () => {
    assert.match(native.description, /^zstd-napi \d+\.\d+\.\d+ \(libzstd 1\.5\.\d+, native\)$/);
    assert.match(wasm.description, /^@bokuweb\/zstd-wasm \d+\.\d+\.\d+ \(WebAssembly: test\)$/);
  });

  it('gives the same squashfs frames block by block (levels 1, 3, 15, 19, 22; up to 1 MiB)', () => {
    const data = inputs();
    assert.ok(data.length > 20, `machine files found: ${data.length - 11}`);
    const differing: string[] = [];
    for (const level of [1, 3, 15, 19, 22])
      for (const [name, input] of data) {
        // Level 19 and 22 on the largest inputs take seconds each in WebAssembly: blocks of at most 128 KiB there.
        const block = level >= 19 ? input.subarray(0, 131072) : input;
        const a = native.compress(block, level);
        const b = wasm.compress(block, level);
        if (Buffer.compare(a, b) !== 0) differing.push(`${name} level ${level}: ${a.length} vs ${b.length} bytes`);
      }
    assert.deepEqual(differing, []);
  });

  it('gives the same fixed-output (EROFS) clusters, from a context reused across trials and files', () => {
    const a = new ZstdFixedOutput(native, 3);
    const b = new ZstdFixedOutput(wasm, 3);
    const differing: string[] = [];
    for (const [name, input] of inputs())
      for (const capacity of [4096, 16384, 65536]) {
        const da = new Uint8Array(capacity);
        const db = new Uint8Array(capacity);
        for (let start = 0; start < input.length; ) {
          const end = Math.min(input.length, start + (1 << 20));
          const ra = a.compress(input, start, end, da, capacity);
          const rb = b.compress(input, start, end, db, capacity);
          if (ra.consumed !== rb.consumed || ra.written !== rb.written || Buffer.compare(da.subarray(0, ra.written), db.subarray(0, rb.written)) !== 0) {
            differing.push(`${name}, ${capacity}-byte clusters, at ${start}`);
            break;
          }
          start += ra.consumed || capacity;
        }
      }
    assert.deepEqual(differing, []);
  });

  describe('images of the corner tree', () => {
    let dir: string;
    let src: string;
    const saved = process.env[ZSTD_ENV];
    before(() => {
      dir = mkdtempSync(join(tmpdir(), 'avocado-zstd-native-'));
      src = join(dir, 'src');
      mkdirSync(src);
      makeCornerTree(src);
      writeFileSync(join(src, 'usr/share/text'), pseudoText(3 << 20, 11));
      writeFileSync(join(src, 'usr/share/random'), pseudoRandom(600_000, 12));
    });
    after(() => {
      if (saved === undefined) delete process.env[ZSTD_ENV];
      else process.env[ZSTD_ENV] = saved;
      rmSync(dir, { recursive: true, force: true });
    });

    /** Builds with AVOCADO_ZSTD set, which the pool's workers inherit (and the main thread's metadata blocks use). */
    async function build(kind: 'squashfs' | 'erofs', choice: 'native' | 'wasm'): Promise<string> {
      process.env[ZSTD_ENV] = choice;
      assert.match((await zstdLibrary()).description, choice === 'native' ? /^zstd-napi/ : /zstd-wasm/);
      const { tree } = await walkSysroot(src, new Exclusions([]), '');
      const image = join(dir, `${kind}-${choice}.img`);
      if (kind === 'squashfs') await writeSquashfs(tree, image, { compressor: 'zstd', time: T, threads: 2 });
      else await writeErofs(tree, image, { compression: erofsCompression('zstd', 4096), time: T, threads: 2 });
      return image;
    }

    for (const kind of ['squashfs', 'erofs'] as const)
      it(`${kind === 'squashfs' ? 'squashfs-zst' : 'erofs-zst'}: the same image with either codec, and the native one mounts as its sysroot`, async () => {
        const nativeImage = await build(kind, 'native');
        const wasmImage = await build(kind, 'wasm');
        assert.equal(sha256(readFileSync(nativeImage)), sha256(readFileSync(wasmImage)));
        const noMount = cannotMount(kind);
        if (noMount) return void console.log(`# not mounted: ${noMount}`);
        const diffs = kind === 'squashfs' ? await verifyImageAgainst(nativeImage, src, T, ALWAYS_EXCLUDED) : await verifyErofsAgainst(nativeImage, src, T, ALWAYS_EXCLUDED);
        assert.deepEqual(diffs, []);
      });

    it('the pool\'s workers follow AVOCADO_ZSTD: a bad value fails the build with its name', async () => {
      process.env[ZSTD_ENV] = 'fast';
      const { tree } = await walkSysroot(src, new Exclusions([]), '');
      await assert.rejects(writeSquashfs(tree, join(dir, 'bad.img'), { compressor: 'zstd', time: T, threads: 1 }), /AVOCADO_ZSTD=fast: expected native, wasm or auto/);
    });
  });
});

describe('AVOCADO_ZSTD and --verbose', () => {
  let project: TestProject;
  before(() => {
    project = new TestProject('default_target: qemux86-64\nsource_date_epoch: 1700000000\nextensions:\n  app:\n    version: "1.0.0"\n    filesystem: erofs-zst\n');
    const sysroot = project.makeSysroot('qemux86-64', 'app');
    mkdirSync(join(sysroot, 'usr/share'), { recursive: true });
    writeFileSync(join(sysroot, 'usr/share/text'), pseudoText(200_000, 1));
    writeReleaseFiles(sysroot, 'app-1.0.0');
  });
  after(() => project.remove());

  const image = (env: Record<string, string>) => {
    const r = project.run(['ext', 'image', 'app', '--engine', 'native', '--verbose'], env);
    return { ...r, sha: r.code === 0 ? sha256(readFileSync(project.image('qemux86-64', 'app', '1.0.0'))) : '' };
  };

  it('says which zstd ran; wasm and the default give the same image', () => {
    const forced = image({ [ZSTD_ENV]: 'wasm' });
    assert.equal(forced.code, 0, forced.stderr);
    assert.match(forced.stdout + forced.stderr, /zstd level 3 \(@bokuweb\/zstd-wasm \d[^)]* \(WebAssembly: AVOCADO_ZSTD=wasm\)\)/);
    const auto = image({});
    assert.equal(auto.code, 0, auto.stderr);
    assert.match(auto.stdout + auto.stderr, skip ? /WebAssembly: zstd-napi is (not installed|installed but not built)/ : /zstd level 3 \(zstd-napi \d[^)]* \(libzstd 1\.5\.\d+, native\)\)/);
    assert.equal(auto.sha, forced.sha);
  });

  it('a value it does not know is a build error naming it', () => {
    const r = image({ [ZSTD_ENV]: 'fast' });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /cannot load the zstd compressor: AVOCADO_ZSTD=fast: expected native, wasm or auto/);
  });

  it('AVOCADO_ZSTD=native without zstd-napi is an error saying why', { skip: skip ? undefined : 'zstd-napi is installed here' }, () => {
    const r = image({ [ZSTD_ENV]: 'native' });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /AVOCADO_ZSTD=native, but zstd-napi is (not installed|installed but not built)/);
  });
});
