'use strict';
/**
 * Entry point of an InferenceEngine's inference thread (see inferenceThread.ts). A worker thread does not inherit
 * the TypeScript loader of the thread that started it (ts-node in `cocoon`, ts-jest in tests), so this plain
 * JavaScript file registers ts-node (SWC, no type checking, as bin/cocoon.js does) before loading the engine.
 */
const path = require('path');
if (!require.extensions['.ts']) {
    require('ts-node').register({ transpileOnly: true, swc: true, project: path.join(__dirname, '..', '..', '..', 'tsconfig.json') });
}
require('./threadMain');
