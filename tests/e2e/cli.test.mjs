// The g1relay command line as a user meets it: help texts, exit codes, the
// documented example configuration, configuration errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const bin = process.env.G1RELAY_BIN;
const repo = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const run = (args, opts = {}) => spawnSync(bin, args, { encoding: 'utf8', cwd: opts.cwd ?? tmpdir(), input: opts.input ?? '' });

test('g1relay --help lists every command; each COMMAND --help exits 0 with its usage', () => {
  const r = run(['--help']);
  assert.equal(r.status, 0);
  assert.match(r.stdout, /usage: g1relay COMMAND/);
  const names = [...r.stdout.matchAll(/^  (\S+)\s{2,}/gm)].map((m) => m[1]);
  assert.ok(names.includes('config'));
  for (const name of names) {
    const h = run([name, '--help']);
    assert.equal(h.status, 0, `${name} --help exits 0: ${h.stderr}`);
    assert.match(h.stdout, new RegExp(`usage: g1relay ${name}`), `${name} --help prints its usage`);
  }
});

test('unknown command and no command exit 2 with a message', () => {
  let r = run(['frobnicate']);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /unknown command 'frobnicate'/);
  r = run([]);
  assert.equal(r.status, 2);
});

test('g1relay.conf.example is exactly `g1relay config --defaults`', () => {
  const r = run(['config', '--defaults']);
  assert.equal(r.status, 0);
  assert.equal(r.stdout, readFileSync(join(repo, 'g1relay.conf.example'), 'utf8'));
});

test('the example file loads and overrides apply on top of it', () => {
  const r = run(['config', '--check', '--config', join(repo, 'g1relay.conf.example'),
    '--set', 'port=9001', '--data', '/tmp/x y']);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^port = 9001$/m);
  assert.match(r.stdout, /^data_dir = "\/tmp\/x y"$/m);
});

test('configuration errors name the file, line and key and exit non-zero', () => {
  const dir = mkdtempSync(join(tmpdir(), 'g1relay-cli-'));
  const path = join(dir, 'bad.conf');
  writeFileSync(path, 'port = 7777\nprot = 1\n');
  let r = run(['config', '--check', '--config', path]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /bad\.conf:2: prot: unknown key/);
  r = run(['config', '--check', '--set', 'port=notanumber']);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /port: must be an integer/);
  r = run(['config', '--check', '--config', join(dir, 'missing.conf')]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /missing\.conf: No such file/);
});
