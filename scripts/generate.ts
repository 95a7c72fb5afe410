/**
 * Build step after tsc: writes the files the npm package ships besides the compiled code, from
 * the code itself so that they cannot drift — schema/avocado.schema.json (the avocado.yaml JSON
 * Schema, for editors) and man/avocado.1 (the man page). Neither is committed.
 *
 *   node dist/scripts/generate.js [OUT_DIR]     (default: the repository)
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildProgram } from '../src/cli/program.js';
import { avocadoJsonSchema } from './avocado-schema.js';
import { manPage } from './man-page.js';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const out = process.argv[2] ?? REPO;
const { version } = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { version: string };

const files: Record<string, string> = {
  'schema/avocado.schema.json': `${JSON.stringify(avocadoJsonSchema(), null, 2)}\n`,
  'man/avocado.1': manPage({ program: buildProgram(async () => {}), version }),
};
for (const [path, text] of Object.entries(files)) {
  mkdirSync(join(out, path, '..'), { recursive: true });
  writeFileSync(join(out, path), text);
}
