/**
 * The squashfs writer's duplicate finder (formats/squashfs/dedup.ts): files of one size are
 * compared by prefixes of growing length, then whole; only files equal to the last byte count,
 * and each copy points at the first of its group in the given order.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { findDuplicates } from '../src/formats/squashfs/dedup.js';
import { preOrder, type FileEntry } from '../src/sysroot/entry.js';
import { Exclusions } from '../src/sysroot/exclude.js';
import { walkSysroot } from '../src/sysroot/walk.js';

const dirs: string[] = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

/** `content` with the byte at `at` changed. */
function differingAt(content: Buffer, at: number): Buffer {
  const b = Buffer.from(content);
  b[at] = b[at]! ^ 0xff;
  return b;
}

describe('squashfs duplicate files', () => {
  it('are found whatever the offset where two files of one size differ', async () => {
    const root = mkdtempSync(join(tmpdir(), 'avocado-dedup-'));
    dirs.push(root);
    mkdirSync(join(root, 'usr'));
    const big = Buffer.alloc(200 * 1024, 'abcdefgh');
    const files: Record<string, Buffer> = {
      'a-original': big,
      'b-copy': big,
      'c-at-100': differingAt(big, 100),
      'd-at-5000': differingAt(big, 5000),
      'e-at-70000': differingAt(big, 70000),
      'f-last-byte': differingAt(big, big.length - 1),
      'g-copy-of-e': differingAt(big, 70000),
      'h-small': Buffer.from('same\n'),
      'i-small-copy': Buffer.from('same\n'),
      'j-4k-copy': Buffer.alloc(4096, 'x'),
      'k-4k-copy': Buffer.alloc(4096, 'x'),
      'l-6k': Buffer.alloc(6000, 'y'),
      'm-6k-at-5000': differingAt(Buffer.alloc(6000, 'y'), 5000),
    };
    for (const [name, content] of Object.entries(files)) writeFileSync(join(root, 'usr', name), content);
    const { tree } = await walkSysroot(root, new Exclusions([]), '');
    const entries = [...preOrder(tree.root)].filter((e): e is FileEntry => e.kind === 'file');
    const name = (e: FileEntry) => e.name.toString();
    const found = Object.fromEntries([...findDuplicates(entries)].map(([copy, original]) => [name(copy), name(original)]));
    assert.deepEqual(found, { 'b-copy': 'a-original', 'g-copy-of-e': 'e-at-70000', 'i-small-copy': 'h-small', 'k-4k-copy': 'j-4k-copy' });
  });
});
