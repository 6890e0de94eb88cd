#!/usr/bin/env node
// Restarting wrapper for the g1node test stand-in: runs g1node.mjs with the given arguments and
// starts it again with the same state file and port whenever it exits for the `restart` fault
// (exit code 75). Other exits end the wrapper with the same code; SIGTERM/SIGINT stop both.
//
//   node tests/g1node/supervise.mjs [--restart-delay-ms N] -- <g1node.mjs arguments>
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { RESTART_EXIT_CODE } from './faults.mjs';

const NODE_SCRIPT = path.join(path.dirname(fileURLToPath(import.meta.url)), 'g1node.mjs');
const argv = process.argv.slice(2);
let delayMs = 500;
const sep = argv.indexOf('--');
const own = sep >= 0 ? argv.slice(0, sep) : [];
let nodeArgs = sep >= 0 ? argv.slice(sep + 1) : argv;
for (let i = 0; i < own.length; i++) {
  if (own[i] === '--restart-delay-ms' && i + 1 < own.length) {
    delayMs = Number(own[++i]);
    if (!Number.isInteger(delayMs) || delayMs < 0 || delayMs > 600000) { console.error('supervise: bad --restart-delay-ms'); process.exit(2); }
  } else { console.error(`supervise: unknown argument ${own[i]}`); process.exit(2); }
}

let child = null;
let stopping = false;

function withPort(args, port) {
  const out = [...args];
  const i = out.indexOf('--port');
  if (i >= 0) out[i + 1] = String(port); else out.push('--port', String(port));
  return out;
}

function start() {
  child = spawn(process.execPath, [NODE_SCRIPT, ...nodeArgs], { stdio: ['ignore', 'pipe', 'inherit'] });
  let buf = '';
  child.stdout.on('data', (d) => {
    process.stdout.write(d);
    buf += d;
    const m = /listening on (\d+)/.exec(buf);
    if (m) { nodeArgs = withPort(nodeArgs, Number(m[1])); buf = ''; } // same port after a restart
    if (buf.length > 4096) buf = buf.slice(-1024);
  });
  child.on('exit', (code, signal) => {
    child = null;
    if (stopping) process.exit(0);
    if (code === RESTART_EXIT_CODE) {
      console.error(`supervise: g1node exited for a restart; starting it again in ${delayMs} ms`);
      setTimeout(start, delayMs);
    } else {
      process.exit(code ?? (signal ? 1 : 0));
    }
  });
}

for (const sig of ['SIGTERM', 'SIGINT']) {
  process.on(sig, () => { stopping = true; if (child) child.kill('SIGTERM'); else process.exit(0); });
}
start();
