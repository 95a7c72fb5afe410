/** This package's name and version, read from its package.json. */
import { readFileSync } from 'node:fs';

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
