/**
 * The supported Node versions, for real: with each Node binary named in AVOCADO_TEST_NODES
 * (':'-separated; .ci/run installs the newest Node 22 and 24 from the npm registry), the README's
 * quick start works in a fresh copy of the repository, and every filesystem value builds with
 * the native engine into the same bytes as with the Node running this test — so the native
 * addons (lz4-napi, lzma-native) and the WebAssembly codecs load there, and nothing of the
 * runtime reaches an image.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { after, describe, it } from 'node:test';
import { FILESYSTEMS } from '../src/formats/filesystems.js';
import { makeCornerTree, pseudoText, writeReleaseFiles } from './helpers/corner-tree.js';
import { CLI, REPO } from './helpers/project.js';
import { makeRandomTree } from './helpers/squashfs.js';

const NODES = (process.env.AVOCADO_TEST_NODES ?? '').split(delimiter).filter(Boolean);
const skip = NODES.length ? undefined : 'set AVOCADO_TEST_NODES to other Node binaries, ":"-separated (.ci/run installs Node 22 and 24)';

const sha256 = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

/** What a child process sees: this environment without npm's variables, with `node` first on PATH. */
function envFor(node: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env))
    if (v !== undefined && !/^npm_/i.test(k) && !k.startsWith('AVOCADO_') && !['NODE', 'INIT_CWD', 'SOURCE_DATE_EPOCH'].includes(k)) env[k] = v;
  env.PATH = `${dirname(node)}${delimiter}${env.PATH ?? ''}`;
  return env;
}

function run(node: string, cmd: string, args: string[], cwd: string): string {
  const r = spawnSync(cmd, args, { cwd, env: envFor(node), encoding: 'utf8', timeout: 300_000 });
  assert.equal(r.status, 0, `${cmd} ${args.join(' ')} with ${node} failed (${r.status ?? r.signal}):\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

const work = mkdtempSync(join(tmpdir(), 'avocado-node-versions-'));
after(() => rmSync(work, { recursive: true, force: true }));

describe('Node versions', { skip }, () => {
  const versions = new Map([process.execPath, ...NODES].map((n) => [n, execFileSync(n, ['-p', 'process.version'], { encoding: 'utf8' }).trim()]));

  it(`builds every filesystem value byte-identically on ${[...versions.values()].join(', ')}`, { timeout: 600_000 }, () => {
    const project = join(work, 'build');
    const sysroot = join(project, '_avocado/qemux86-64/extensions/app');
    mkdirSync(sysroot, { recursive: true });
    makeCornerTree(sysroot);
    makeRandomTree(join(sysroot, 'usr/share/random-tree'), { seed: 20, entries: 300, maxFileSize: 512 << 10 });
    writeFileSync(join(sysroot, 'usr/share/text'), pseudoText(3 << 20, 7));
    writeReleaseFiles(sysroot, 'app-1.0.0');
    const differences: string[] = [];
    for (const fs of FILESYSTEMS) {
      writeFileSync(join(project, 'avocado.yaml'), `default_target: qemux86-64\nsource_date_epoch: 1700000000\nextensions:\n  app:\n    version: "1.0.0"\n    filesystem: ${fs.value}\n`);
      const digests = new Map<string, string>();
      for (const [node, version] of versions) {
        const out = join(work, `out-${version}`);
        run(node, node, [CLI, 'ext', 'image', 'app', '--engine', 'native', '--out', out], project);
        digests.set(version, sha256(join(out, 'app-1.0.0.raw')));
      }
      if (new Set(digests.values()).size !== 1) differences.push(`${fs.value}: ${[...digests].map(([v, d]) => `${v} ${d.slice(0, 16)}`).join(', ')}`);
    }
    assert.deepEqual(differences, []);
  });

  for (const node of NODES)
    it(`runs the quick start (npm ci && npm run example) on ${versions.get(node)} and builds the example's bytes`, { timeout: 600_000 }, () => {
      const copy = join(work, `repo-${versions.get(node)}`);
      const files = execFileSync('git', ['-C', REPO, 'ls-files', '-z', '--cached', '--others', '--exclude-standard'], { encoding: 'utf8' }).split('\0').filter(Boolean);
      for (const f of files)
        if (existsSync(join(REPO, f))) {
          mkdirSync(dirname(join(copy, f)), { recursive: true });
          copyFileSync(join(REPO, f), join(copy, f));
        }
      assert.equal(run(node, 'node', ['-p', 'process.version'], copy).trim(), versions.get(node));
      run(node, 'npm', ['ci', '--no-audit', '--no-fund', '--prefer-offline'], copy);
      run(node, 'npm', ['run', 'example'], copy);
      const image = join(copy, 'examples/hello/dist/hello-1.0.0.raw');

      // The same example with the Node running this test, straight through the CLI.
      const here = join(work, `example-${versions.get(node)}`);
      for (const f of files.filter((f) => f.startsWith('examples/hello/') && !f.startsWith('examples/hello/dist/'))) {
        mkdirSync(dirname(join(here, f)), { recursive: true });
        copyFileSync(join(REPO, f), join(here, f));
      }
      const config = join(here, 'examples/hello/avocado.yaml');
      run(process.execPath, process.execPath, [CLI, 'ext', 'build', 'hello', '-C', config], here);
      run(process.execPath, process.execPath, [CLI, 'ext', 'image', 'hello', '-C', config, '--out', join(here, 'dist')], here);
      assert.equal(sha256(image), sha256(join(here, 'dist/hello-1.0.0.raw')));
    });
});
