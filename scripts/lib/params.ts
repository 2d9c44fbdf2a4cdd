import { fromNano, toNano } from '@ton/core';
import { NetworkParams, tactConstant } from '../../wrappers';
import { Args, OptionSpec } from './args';
import { formatDuration, parseBps, parseDuration, parseTon } from './validate';

/**
 * The network parameters as script options (deployRegistry: defaults below; setParams: the registry's current
 * values), with the same bounds the registry enforces in validateParams (contracts/registry.tact).
 */

export { DEFAULT_PARAMS } from '../../wrappers';

export const PARAM_OPTIONS: OptionSpec[] = [
    { name: 'min-stake', help: 'minimum provider stake in TON to claim jobs (default 10)', env: true },
    { name: 'cooldown', help: 'unstake cooldown, seconds or 12h/7d (default 7d)', env: true },
    { name: 'fee-bps', help: 'protocol fee in basis points, at most 1000 (default 250 = 2.5 %)', env: true },
    { name: 'dispute-window', help: 'seconds a committed result waits before anyone may settle it (default 1h)', env: true },
    { name: 'slash-bps', help: 'share of the locked stake paid to the client on expiry, basis points (default 5000)', env: true },
    { name: 'max-job-duration', help: 'longest allowed job deadline from open (default 1d)', env: true },
    { name: 'lock-ratio-bps', help: 'stake locked per claim as basis points of the price, 10000 to 100000 (default 20000)', env: true },
];

const n = (name: string) => Number(tactConstant(name));

/** `base` with every parameter option given in `args` replaced; throws on values the registry would reject. */
export function paramsFromArgs(args: Args, base: NetworkParams): { params: NetworkParams; changed: string[] } {
    const p: NetworkParams = { ...base };
    const changed: string[] = [];
    const take = <T>(name: string, parse: (name: string, v: string) => T, apply: (v: T) => void) => {
        const v = args.optional(name, parse);
        if (v !== undefined) {
            apply(v);
            changed.push(name);
        }
    };
    take('min-stake', (k, v) => parseTon(k, v, { allowZero: true }), (v) => (p.minProviderStake = v));
    take('cooldown', (k, v) => parseDuration(k, v, { max: n('MaxCooldown') }), (v) => (p.unstakeCooldown = BigInt(v)));
    take('fee-bps', (k, v) => parseBps(k, v, { max: n('MaxFeeBps') }), (v) => (p.protocolFeeBps = BigInt(v)));
    take('dispute-window', (k, v) => parseDuration(k, v, { max: n('MaxDisputeWindow') }), (v) => (p.disputeWindow = BigInt(v)));
    take('slash-bps', (k, v) => parseBps(k, v, { max: n('MaxSlashBps') }), (v) => (p.slashBps = BigInt(v)));
    take('max-job-duration', (k, v) => parseDuration(k, v, { min: 1, max: n('MaxJobDurationCap') }), (v) => (p.maxJobDuration = BigInt(v)));
    take('lock-ratio-bps', (k, v) => parseBps(k, v, { min: n('MinLockRatioBps'), max: n('MaxLockRatioBps') }), (v) => (p.lockRatioBps = BigInt(v)));
    return { params: p, changed };
}

/** One-line description of the parameters. */
export function describeParams(p: NetworkParams): string {
    return [
        `min stake ${fromNano(p.minProviderStake)} TON`,
        `cooldown ${formatDuration(Number(p.unstakeCooldown))}`,
        `fee ${p.protocolFeeBps} bps`,
        `dispute window ${formatDuration(Number(p.disputeWindow))}`,
        `slash ${p.slashBps} bps`,
        `max job ${formatDuration(Number(p.maxJobDuration))}`,
        `lock ratio ${p.lockRatioBps} bps`,
    ].join(', ');
}

export function paramsToJson(p: NetworkParams): Record<string, string> {
    return {
        minProviderStake: p.minProviderStake.toString(),
        unstakeCooldown: p.unstakeCooldown.toString(),
        protocolFeeBps: p.protocolFeeBps.toString(),
        disputeWindow: p.disputeWindow.toString(),
        slashBps: p.slashBps.toString(),
        maxJobDuration: p.maxJobDuration.toString(),
        lockRatioBps: p.lockRatioBps.toString(),
    };
}

export function sameParams(a: NetworkParams, b: NetworkParams): boolean {
    return JSON.stringify(paramsToJson(a)) === JSON.stringify(paramsToJson(b));
}
