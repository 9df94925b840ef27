#!/usr/bin/env node
// Builds with tsc, then runs the benchmark (dist/bench/main.js) with this
// script's arguments: `npm run bench -- --smoke | --quick | --full`.
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const build = spawnSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(root, 'tsconfig.json')], {
  stdio: 'inherit',
});
if (build.status !== 0) process.exit(build.status ?? 1);

const bench = spawn(process.execPath, ['--enable-source-maps', join(root, 'dist/bench/main.js'), ...process.argv.slice(2)], {
  stdio: 'inherit',
  cwd: root,
});
// The benchmark stops what it started on SIGINT/SIGTERM: wait for it rather
// than exiting first (Ctrl-C reaches it directly; a SIGTERM to this script
// is passed on).
process.on('SIGINT', () => {});
process.on('SIGTERM', () => bench.kill('SIGTERM'));
bench.on('exit', (code, signal) => process.exit(code ?? (signal === 'SIGINT' ? 130 : 1)));
