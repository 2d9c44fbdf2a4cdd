#!/usr/bin/env node
// The `cocoon` command. Sources are TypeScript; ts-node transpiles them on the fly with SWC (type checking is `npm run typecheck`).
const path = require('path');
require('ts-node').register({ transpileOnly: true, swc: true, project: path.join(__dirname, '..', 'tsconfig.json') });
require('../client/cli/main').main(process.argv.slice(2)).then(
    (code) => { process.exitCode = code; },
    (err) => { console.error(`cocoon: ${err && err.message ? err.message : err}`); process.exitCode = 1; },
);
