/**
 * The layering of src/ (.dependency-cruiser.cjs): formats and compress never import engines,
 * config, image or cli, and the other rules there. Checked by dependency-cruiser on the sources;
 * a planted violation shows that the check can fail.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stripVTControlCharacters } from 'node:util';
import { after, describe, it } from 'node:test';
import { REPO } from './helpers/project.js';

const CONFIG = join(REPO, '.dependency-cruiser.cjs');
const DEPCRUISE = join(REPO, 'node_modules', 'dependency-cruiser', 'bin', 'dependency-cruise.mjs');

function cruise(cwd: string): { status: number | null; output: string } {
  // Colour is forced where CI is set; the messages are compared as plain text.
  const env = { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' };
  const r = spawnSync(process.execPath, [DEPCRUISE, 'src', '--config', CONFIG, '--output-type', 'err'], { cwd, env, encoding: 'utf8', timeout: 120_000 });
  return { status: r.status, output: stripVTControlCharacters(`${r.stdout}${r.stderr}`) };
}

describe('layering', () => {
  it('src/ follows the rules of .dependency-cruiser.cjs', () => {
    const { status, output } = cruise(REPO);
    assert.equal(status, 0, output);
  });

  const planted = mkdtempSync(join(tmpdir(), 'avocado-layering-'));
  after(() => rmSync(planted, { recursive: true, force: true }));

  it('fails on a format that imports the configuration, and on a codec that imports a format', () => {
    mkdirSync(join(planted, 'src', 'formats'), { recursive: true });
    mkdirSync(join(planted, 'src', 'config'), { recursive: true });
    mkdirSync(join(planted, 'src', 'compress'), { recursive: true });
    writeFileSync(join(planted, 'tsconfig.json'), JSON.stringify({ compilerOptions: { module: 'nodenext', strict: true } }));
    writeFileSync(join(planted, 'src', 'config', 'project.ts'), 'export const x = 1;\n');
    writeFileSync(join(planted, 'src', 'formats', 'writer.ts'), "import { x } from '../config/project.js';\nexport const y = x;\n");
    writeFileSync(join(planted, 'src', 'compress', 'codec.ts'), "import { y } from '../formats/writer.js';\nexport const z = y;\n");
    const { status, output } = cruise(planted);
    assert.notEqual(status, 0, output);
    assert.match(output, /formats-stay-low: src\/formats\/writer\.ts → src\/config\/project\.ts/);
    assert.match(output, /compress-stays-lowest: src\/compress\/codec\.ts → src\/formats\/writer\.ts/);
  });
});
