import { OpenedContract } from '@ton/core';
import { Registry, tactConstant } from '../../wrappers';
import { ScriptContext } from './context';
import { ACTION_VALUE, queryId } from './fees';
import { hex256 } from './validate';

export type AllowlistKind = 'measurement' | 'model';

async function isAllowed(registry: OpenedContract<Registry>, kind: AllowlistKind, hash: bigint): Promise<boolean> {
    return kind === 'measurement' ? registry.getIsMeasurementAllowed(hash) : registry.getIsModelAllowed(hash);
}

/**
 * Allows or revokes a TEE measurement or a model hash (governance only): checks the owner, the current state and
 * the allowlist bound, sends, and waits until the registry's getter shows the change.
 */
export async function changeAllowlist(ctx: ScriptContext, kind: AllowlistKind, allow: boolean, hash: bigint, source?: string) {
    const registry = await ctx.registry();
    await ctx.requireOwner(registry);
    const label = `${kind} ${hex256(hash)}${source ? ` (sha256 of ${source})` : ''}`;
    const before = await isAllowed(registry, kind, hash);
    if (allow && before) throw new Error(`${label} is already allowed in registry ${ctx.fmt(registry.address)}`);
    if (!allow && !before) throw new Error(`${label} is not allowed in registry ${ctx.fmt(registry.address)}: nothing to revoke`);
    if (allow) {
        const counts = await registry.getAllowlistCounts();
        const count = kind === 'measurement' ? counts.measurements : counts.models;
        const max = tactConstant(kind === 'measurement' ? 'MaxMeasurements' : 'MaxModels');
        if (count >= max) throw new Error(`the ${kind} allowlist of registry ${ctx.fmt(registry.address)} is full (${count} of ${max}): revoke one first`);
    }
    await ctx.requireBalance(ACTION_VALUE, `${allow ? 'allowing' : 'revoking'} a ${kind}`);
    const q = queryId();
    if (kind === 'measurement') {
        await registry.send(ctx.provider.sender(), { value: ACTION_VALUE }, allow
            ? { $$type: 'AllowMeasurement', queryId: q, measurement: hash }
            : { $$type: 'RevokeMeasurement', queryId: q, measurement: hash });
    } else {
        await registry.send(ctx.provider.sender(), { value: ACTION_VALUE }, allow
            ? { $$type: 'AllowModel', queryId: q, modelHash: hash }
            : { $$type: 'RevokeModel', queryId: q, modelHash: hash });
    }
    await ctx.waitFor(`the registry to ${allow ? 'allow' : 'revoke'} ${label}`, async () => (await isAllowed(registry, kind, hash)) === allow);
    const counts = await registry.getAllowlistCounts();
    const count = kind === 'measurement' ? counts.measurements : counts.models;
    return ctx.done(`registry ${ctx.fmt(registry.address)}: ${label} ${allow ? 'allowed' : 'revoked'} (${count} ${kind}s allowed)`, {
        registry: registry.address,
        kind,
        hash,
        allowed: allow,
        count,
    });
}
