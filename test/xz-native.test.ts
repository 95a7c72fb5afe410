/**
 * lzma-native's liblzma compiled at install with -O2 (scripts/optimise-xz.cjs) gives exactly the
 * bytes of the package's prebuilt binary: block by block over varied data and sizes, and image by
 * image (the corner tree as squashfs-xz with each forced by AVOCADO_XZ); the optimised image
 * mounts as its sysroot; `--verbose` says which ran; a bad AVOCADO_XZ is an error.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { xzCodec } from '../src/compress/xz.js';
import { XZ_ENV, lzmaBinding } from '../src/compress/lzma-binding.js';
import { writeSquashfs } from '../src/formats/squashfs/writer.js';
import { ALWAYS_EXCLUDED, Exclusions } from '../src/sysroot/exclude.js';
import { walkSysroot } from '../src/sysroot/walk.js';
import { makeCornerTree, pseudoRandom, pseudoText, writeReleaseFiles } from './helpers/corner-tree.js';
import { TestProject } from './helpers/project.js';
import { verifyImageAgainst } from './helpers/squashfs.js';
import { cannotMount } from './helpers/system.js';

const require = createRequire(import.meta.url);
const T = 1700000000;
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const dir = dirname(require.resolve('lzma-native/package.json'));
const built = join(dir, 'build/Release/lzma_native.node');
const prebuilt = join(dir, 'prebuilds', `${process.platform}-${process.arch}`, 'node.napi.node');
const skip = !existsSync(built)
  ? `lzma-native was not compiled at install (no ${built}): npm install with a C compiler builds it (scripts/optimise-xz.cjs)`
  : !existsSync(prebuilt)
    ? `lzma-native has no prebuilt binary for ${process.platform}-${process.arch} to compare with`
    : undefined;

const saved = process.env[XZ_ENV];
function choose(choice: string | undefined): void {
  if (choice === undefined) delete process.env[XZ_ENV];
  else process.env[XZ_ENV] = choice;
}
after(() => choose(saved));

describe('the optimised liblzma against the prebuilt one', { skip }, () => {
  it('names itself', () => {
    choose('built');
    assert.match(lzmaBinding().description, /^lzma-native \d+\.\d+\.\d+ \(liblzma 5\.\d+\.\d+, compiled at install with -O2/);
    choose('prebuilt');
    assert.match(lzmaBinding().description, /^lzma-native \d+\.\d+\.\d+ \(liblzma 5\.\d+\.\d+, its prebuilt binary, unoptimised\)$/);
    choose(undefined);
    assert.match(lzmaBinding().description, /compiled at install/);
  });

  it('gives the same xz streams block by block (4 KiB to 1 MiB blocks, text, random, zeros, this machine\'s files)', () => {
    const inputs: [string, Buffer][] = [
      ['one byte', Buffer.from('x')],
      ['zeros', Buffer.alloc(131072)],
      ['random', pseudoRandom(131072, 2)],
      ['text', pseudoText(1 << 20, 6)],
      ['text then random', Buffer.concat([pseudoText(70000, 7), pseudoRandom(61072, 8)])],
      ...['/usr/bin/node', '/usr/bin/bash', '/usr/share/perl5/Debconf/Config.pm'].filter((f) => existsSync(f)).map((f): [string, Buffer] => [f, readFileSync(f).subarray(0, 1 << 20)]),
    ];
    const differing: string[] = [];
    for (const blockSize of [4096, 131072, 1 << 20]) {
      choose('built');
      const a = xzCodec({ name: 'xz', blockSize });
      choose('prebuilt');
      const b = xzCodec({ name: 'xz', blockSize });
      for (const [name, input] of inputs)
        for (let at = 0; at < input.length; at += blockSize) {
          const block = input.subarray(at, at + blockSize);
          if (Buffer.compare(a.compress(block), b.compress(block)) !== 0) differing.push(`${name} at ${at}, ${blockSize}-byte blocks`);
        }
    }
    assert.deepEqual(differing, []);
  });

  describe('squashfs-xz images of the corner tree', () => {
    let work: string;
    let src: string;
    before(() => {
      work = mkdtempSync(join(tmpdir(), 'avocado-xz-native-'));
      src = join(work, 'src');
      mkdirSync(src);
      makeCornerTree(src);
      writeFileSync(join(src, 'usr/share/text'), pseudoText(2 << 20, 11));
    });
    after(() => rmSync(work, { recursive: true, force: true }));

    /** AVOCADO_XZ is inherited by the pool's workers. */
    async function build(choice: 'built' | 'prebuilt'): Promise<string> {
      choose(choice);
      const { tree } = await walkSysroot(src, new Exclusions([]), '');
      const image = join(work, `${choice}.img`);
      await writeSquashfs(tree, image, { compressor: 'xz', time: T, threads: 2 });
      return image;
    }

    it('the same image with either build, and the optimised one mounts as its sysroot', async () => {
      const optimised = await build('built');
      const plain = await build('prebuilt');
      assert.equal(sha256(readFileSync(optimised)), sha256(readFileSync(plain)));
      const noMount = cannotMount('squashfs');
      if (noMount) return void console.log(`# not mounted: ${noMount}`);
      assert.deepEqual(await verifyImageAgainst(optimised, src, T, ALWAYS_EXCLUDED), []);
    });

    it('a bad AVOCADO_XZ fails the build with its name', async () => {
      choose('fast');
      const { tree } = await walkSysroot(src, new Exclusions([]), '');
      await assert.rejects(writeSquashfs(tree, join(work, 'bad.img'), { compressor: 'xz', time: T, threads: 1 }), /AVOCADO_XZ=fast: expected built, prebuilt or auto/);
    });
  });
});

describe('--verbose says which liblzma ran', () => {
  let project: TestProject;
  before(() => {
    project = new TestProject('default_target: t\nextensions:\n  app:\n    version: "1.0.0"\n    filesystem: squashfs-xz\n');
    const sysroot = project.makeSysroot('t', 'app');
    mkdirSync(join(sysroot, 'usr/share'), { recursive: true });
    writeFileSync(join(sysroot, 'usr/share/text'), pseudoText(300_000, 1));
    writeReleaseFiles(sysroot, 'app-1.0.0');
  });
  after(() => project.remove());

  it('in the build and in --version --verbose', () => {
    const r = project.run(['ext', 'image', 'app', '--verbose']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, skip ? /lzma-native \d[^ ]* \(liblzma 5\.\d+\.\d+/ : /lzma-native \d[^ ]* \(liblzma 5\.\d+\.\d+, compiled at install with -O2\): preset 6/);
    const v = project.run(['--version', '--verbose']);
    assert.match(v.stdout, /xz \(squashfs-xz\): lzma-native/);
  });
});
