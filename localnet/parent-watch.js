/**
 * Preloaded (`node -r localnet/parent-watch.js …`) into every process a local network starts. If the parent dies
 * without stopping it (SIGKILL, OOM, a crash the parent could not clean up after), the child notices that it was
 * re-parented and shuts itself down: SIGTERM to itself (its own graceful shutdown), then a hard exit after a grace
 * period. Plain JavaScript so it runs before ts-node is registered. Polling: Node has no PR_SET_PDEATHSIG.
 */
'use strict';
const parentPid = process.ppid;
const graceMs = Number(process.env.COCOON_PARENT_WATCH_GRACE_MS || 10000);
const timer = setInterval(() => {
    if (process.ppid === parentPid) return;
    clearInterval(timer);
    process.stderr.write(`parent process ${parentPid} is gone: shutting down (no orphans)\n`);
    setTimeout(() => process.exit(1), graceMs).unref();
    process.kill(process.pid, 'SIGTERM');
}, 500);
timer.unref();
