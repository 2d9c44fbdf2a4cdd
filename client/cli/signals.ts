/**
 * Long-running commands (`up`, `orchestrator`, `worker`, `devnet`) run until SIGINT or SIGTERM, then shut down
 * cleanly. A second signal while shutting down exits at once with 130: an operator pressing Ctrl-C twice means it.
 */
export function untilShutdownSignal(): Promise<NodeJS.Signals> {
    return new Promise((resolve) => {
        const onSignal = (s: NodeJS.Signals) => {
            process.off('SIGINT', onSignal);
            process.off('SIGTERM', onSignal);
            const force = () => process.exit(130);
            process.once('SIGINT', force);
            process.once('SIGTERM', force);
            resolve(s);
        };
        process.on('SIGINT', onSignal);
        process.on('SIGTERM', onSignal);
    });
}
