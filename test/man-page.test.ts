/**
 * man/avocado.1, shipped as the package's man page: the one generated from the program, rendered
 * by groff and man without a warning, listing every command and every option with its help text,
 * and every environment variable the code reads.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Help, type Command } from 'commander';
import { ENVIRONMENT, manPage } from '../scripts/man-page.js';
import { buildProgram } from '../src/cli/program.js';
import { REPO } from './helpers/project.js';
import { hasTool } from './helpers/system.js';

const MAN_FILE = join(REPO, 'man/avocado.1');
const { version } = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { version: string };
const program = buildProgram(async () => {});
const allCommands = (cmd: Command): Command[] => [cmd, ...cmd.commands.flatMap(allCommands)];

/** Rendered text with every run of white space made one space, as typographic quotes and dashes back to ASCII. */
function rendered(): string {
  const text = execFileSync('groff', ['-man', '-Tutf8', '-P-cbou', MAN_FILE], { encoding: 'utf8' });
  return text.replace(/[\u2018\u2019]/g, "'").replace(/[\u201c\u201d]/g, '"').replace(/[\u2010\u2212]/g, '-').replace(/\s+/g, ' ');
}
const flat = (s: string) => s.replace(/\s+/g, ' ').trim();

describe('man page', () => {
  it('is the one generated from the program (the build wrote it)', () => {
    assert.equal(readFileSync(MAN_FILE, 'utf8'), manPage({ program, version }));
  });

  it('renders with groff without a warning', { skip: hasTool('groff') ? undefined : 'needs groff (groff-base)' }, () => {
    const r = spawnSync('groff', ['-man', '-Tutf8', '-ww', '-z', MAN_FILE], { encoding: 'utf8' });
    assert.equal(r.status, 0);
    assert.equal(r.stderr, '');
  });

  it('opens with man -l without a warning', { skip: hasTool('man') ? undefined : 'needs man (man-db)' }, () => {
    const r = spawnSync('man', ['--warnings', '-l', MAN_FILE], { encoding: 'utf8', env: { ...process.env, MANPAGER: 'cat', PAGER: 'cat', MANWIDTH: '80' } });
    assert.equal(r.status, 0);
    assert.equal(r.stderr, '');
    assert.match(r.stdout, /^AVOCADO\(1\)/);
    for (const section of ['NAME', 'SYNOPSIS', 'DESCRIPTION', 'OPTIONS', 'COMMANDS', 'EXAMPLES', 'EXIT STATUS', 'ENVIRONMENT', 'FILES', 'SEE ALSO'])
      assert.match(r.stdout, new RegExp(`^${section}$`, 'm'), section);
  });

  it('lists every command, argument and option of the program with its help text', { skip: hasTool('groff') ? undefined : 'needs groff (groff-base)' }, () => {
    const text = rendered();
    const help = new Help();
    let options = 0;
    for (const cmd of allCommands(program)) {
      if (cmd !== program && cmd.commands.length) continue; // a group: its commands are listed
      assert.ok(text.includes(flat(help.commandUsage(cmd))), `usage of ${cmd.name()}`);
      for (const arg of help.visibleArguments(cmd)) assert.ok(text.includes(flat(`${help.argumentTerm(arg)} ${help.argumentDescription(arg)}`)), `${cmd.name()} ${arg.name()}`);
      for (const option of help.visibleOptions(cmd)) {
        assert.ok(text.includes(flat(`${help.optionTerm(option)} ${help.optionDescription(option)}`)), `${help.commandUsage(cmd)}: ${help.optionTerm(option)}`);
        options++;
      }
    }
    assert.ok(options >= 20, `${options} options`);
    for (const status of ['0 success', '1 build failed', '2 usage or configuration error', '130 interrupted']) assert.ok(text.includes(status), status);
  });

  it('documents every environment variable the code reads', () => {
    const notForUsers = new Set(['PATH', 'AVOCADO_BINFMT_DIR']); // the search path; a test hook
    const read = new Set<string>();
    const walk = (dir: string) => {
      for (const e of readdirSync(dir, { withFileTypes: true })) {
        if (e.isDirectory()) walk(join(dir, e.name));
        // The bundle (scripts/bundle.ts) repeats our modules and adds the packages' own code.
        else if (e.name.endsWith('.js') && join(dir, e.name) !== join(REPO, 'dist/src/cli/avocado.js'))
          for (const m of readFileSync(join(dir, e.name), 'utf8').matchAll(/(?<!\{\{\s*)\benv\??\.([A-Z][A-Z0-9_]{2,})\b/g)) read.add(m[1]!);
      }
    };
    walk(join(REPO, 'dist/src'));
    assert.ok(read.has('AVOCADO_TARGET'), 'the scan finds what the code reads');
    const documented = new Set(ENVIRONMENT.map(([name]) => name));
    const missing = [...read].filter((name) => !notForUsers.has(name) && !documented.has(name));
    assert.deepEqual(missing, []);
  });
});
