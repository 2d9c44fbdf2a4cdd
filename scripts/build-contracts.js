#!/usr/bin/env node
// Compiles the Tact contracts (Blueprint) and stays quiet unless the compiler fails: the tests, the demo and the
// benchmarks run this first so that build/ always matches contracts/.
const { spawnSync } = require('child_process');
const path = require('path');

const r = spawnSync(process.execPath, [require.resolve('@ton/blueprint/dist/cli/cli.js'), 'build', '--all'], {
    cwd: path.join(__dirname, '..'),
    encoding: 'utf8',
});
if (r.status !== 0) {
    process.stderr.write(r.stdout + r.stderr);
    process.stderr.write('\ncontract compilation failed (see above)\n');
    process.exit(r.status ?? 1);
}
