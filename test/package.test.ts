/**
 * The npm package: every installed dependency's `engines` admits every Node version ours does
 * (npm warns otherwise, and the README's promise would be false), the metadata points at the
 * project, and `npm pack` ships the CLI, the JSON Schema, the man page and the licence — and no
 * tests.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import subset from 'semver/ranges/subset.js';
import { REPO } from './helpers/project.js';
import { hasTool } from './helpers/system.js';

interface Manifest {
  name: string;
  engines?: { node?: string };
  repository?: { type: string; url: string };
  homepage?: string;
  bugs?: { url: string };
  license?: string;
  man?: string | string[];
  bin?: Record<string, string>;
}

const pkg = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as Manifest;
const lock = JSON.parse(readFileSync(join(REPO, 'package-lock.json'), 'utf8')) as {
  packages: Record<string, { engines?: { node?: string } | string[]; optional?: boolean; dev?: boolean; os?: string[]; cpu?: string[] }>;
};

describe('npm package', () => {
  it('has engines no dependency contradicts', () => {
    const ours = pkg.engines?.node;
    assert.ok(ours, 'package.json engines.node');
    const conflicts: string[] = [];
    for (const [path, entry] of Object.entries(lock.packages)) {
      if (!path) continue;
      const theirs = Array.isArray(entry.engines) ? undefined : entry.engines?.node;
      if (theirs && !subset(ours, theirs)) conflicts.push(`${path.replace(/^node_modules\//, '')}${entry.dev ? ' (dev)' : ''} wants node ${theirs}`);
    }
    assert.deepEqual(conflicts, [], `package.json says node ${ours}`);
  });

  it('points at its repository, home page and issue tracker, and is Apache-2.0 licensed', () => {
    const repo = 'github.com/avocado-linux/avocado-ext';
    assert.equal(pkg.repository?.type, 'git');
    assert.equal(pkg.repository?.url, `git+https://${repo}.git`);
    assert.equal(pkg.homepage, `https://${repo}#readme`);
    assert.equal(pkg.bugs?.url, `https://${repo}/issues`);
    assert.equal(pkg.license, 'Apache-2.0');
    const license = readFileSync(join(REPO, 'LICENSE'), 'utf8');
    assert.match(license, /Apache License\s+Version 2\.0, January 2004/);
    assert.match(license, /Copyright 2026 The avocado authors/);
  });

  it('ships the CLI (with the LZ4 encoder\'s WebAssembly), the JSON Schema, the man page and the licence, and no tests', { skip: hasTool('npm') ? undefined : 'needs npm' }, () => {
    const r = spawnSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: REPO, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const files = (JSON.parse(r.stdout) as { files: { path: string }[] }[])[0]!.files.map((f) => f.path);
    for (const f of ['LICENSE', 'README.md', 'package.json', 'schema/avocado.schema.json', 'man/avocado.1', pkg.bin!.avocado!, 'dist/src/compress/worker.js', 'dist/src/compress/lz4/encoder.wasm', 'scripts/optimise-xz.cjs'])
      assert.ok(files.includes(f), `${f} is shipped`);
    // An array: npm 11 skipped a string `man` when linking man pages on `npm install -g .`.
    assert.deepEqual(pkg.man, ['./man/avocado.1']);
    assert.ok(existsSync(join(REPO, 'man/avocado.1')));
    assert.deepEqual(files.filter((f) => /(^|\/)test\/|\.test\.js$|^bench\/|^dist\/(bench|scripts)\//.test(f)), []);
  });
});
