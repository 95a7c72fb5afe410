/**
 * The command runs as one bundle (scripts/bundle.ts): `bin.js` loads dist/src/cli/avocado.js and,
 * on the main thread, none of our other modules, also where a small tree is compressed on the
 * main thread (the job module comes from the bundle, not from its file). Checked with a real
 * module-resolution hook in the real command process.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { REPO, TestProject } from './helpers/project.js';

const DIST_SRC = pathToFileURL(join(REPO, 'dist/src/')).href;

describe('the bundled command', () => {
  const hooks = mkdtempSync(join(tmpdir(), 'avocado-bundle-'));
  after(() => rmSync(hooks, { recursive: true, force: true }));
  // Each module of ours that the process resolves, one line each on stderr.
  writeFileSync(
    join(hooks, 'log.mjs'),
    `export async function resolve(s, c, next) { const r = await next(s, c); if (r.url.startsWith(${JSON.stringify(DIST_SRC)})) process.stderr.write('RESOLVED ' + r.url.slice(${DIST_SRC.length}) + '\\n'); return r; }\n`,
  );
  writeFileSync(join(hooks, 'register.mjs'), `import { register } from 'node:module';\nregister(${JSON.stringify(pathToFileURL(join(hooks, 'log.mjs')).href)});\n`);
  const env = { NODE_OPTIONS: `--import=${pathToFileURL(join(hooks, 'register.mjs')).href}` };

  it('is built', () => assert.ok(existsSync(join(REPO, 'dist/src/cli/avocado.js'))));

  for (const filesystem of ['squashfs', 'erofs-lz4']) {
    it(`loads only bin.js and the bundle for ext image (${filesystem}, compressed on the main thread)`, (t) => {
      const p = new TestProject(`default_target: t\nextensions:\n  app:\n    version: "1.0.0"\n    filesystem: ${filesystem}\n`);
      t.after(() => p.remove());
      const root = p.makeSysroot('t', 'app');
      writeFileSync(join(root, 'data.txt'), 'hello bundle\n'.repeat(500));
      const r = p.run(['ext', 'image', 'app'], env);
      assert.equal(r.code, 0, r.stderr);
      const resolved = [...new Set(r.stderr.split('\n').filter((l) => l.startsWith('RESOLVED ')).map((l) => l.slice(9)))].sort();
      assert.deepEqual(resolved, ['cli/avocado.js', 'cli/bin.js']);
      assert.ok(existsSync(p.image('t', 'app', '1.0.0')));
    });
  }
});
