/** Versions: this package's name and version, and those of the packages it depends on, read from their package.json. */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, sep } from 'node:path';

let cached: { name: string; version: string } | undefined;

function pkg(): { name: string; version: string } {
  // dist/src/util/version.js -> package.json
  cached ??= JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { name: string; version: string };
  return cached;
}

export function packageVersion(): string {
  return pkg().version;
}

export function packageName(): string {
  return pkg().name;
}

const require = createRequire(import.meta.url);

/** The version of an installed dependency (its package.json may not be exported). */
export function dependencyVersion(name: string): string {
  const main = require.resolve(name);
  const marker = `${sep}node_modules${sep}${name.split('/').join(sep)}${sep}`;
  const root = main.slice(0, main.lastIndexOf(marker) + marker.length);
  return (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version;
}
