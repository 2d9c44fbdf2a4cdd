import {
    DEFAULT_SCORE_CONFIG,
    INELIGIBLE_REASONS,
    IneligibleReason,
    ProviderDirectory,
    ProviderInput,
    RoutableJob,
    Router,
    eligibility,
    hashKey,
    jobFromOpened,
    lockFor,
    route,
    score,
} from '../../orchestrator/router';
import { Address, Dictionary } from '@ton/core';

const TON = 1_000_000_000n;
const NOW = 1_800_000_000_000; // ms
const M1 = hashKey(1n);
const M2 = hashKey(2n);
const MEAS = hashKey(0xaaaan);
const BAD_MEAS = hashKey(0xbbbbn);

function dir(): ProviderDirectory {
    return new ProviderDirectory({
        network: {
            minProviderStake: 10n * TON,
            lockRatioBps: 15000,
            allowedMeasurements: [MEAS],
            allowedModels: [M1, M2],
            heartbeatTtlMs: 30_000,
            minTimeLeftMs: 60_000,
        },
    });
}

function provider(owner: string, over: Partial<ProviderInput> = {}): ProviderInput {
    return {
        owner,
        stakeContract: `stake-${owner}`,
        stake: 100n * TON,
        locked: 0n,
        pendingUnstake: 0n,
        active: true,
        measurement: MEAS,
        attestationHash: hashKey(7n),
        receiptKey: hashKey(8n),
        encryptionKey: hashKey(9n),
        endpoint: `https://${owner}.example`,
        models: new Map([[M1, 1n * TON]]),
        lastHeartbeatMs: NOW - 1000,
        load: 0,
        capacity: 4,
        ...over,
    };
}

function job(over: Partial<RoutableJob> = {}): RoutableJob {
    return { jobId: 1n, modelHash: M1, maxPrice: 2n * TON, deadline: NOW / 1000 + 600, ...over };
}

/** The reason from the pure function and from route() for a single-provider directory must agree. */
function expectReason(d: ProviderDirectory, j: RoutableJob, owner: string, reason: IneligibleReason): void {
    const e = eligibility(j, d.get(owner)!, d.network, NOW);
    expect(e).toEqual({ ok: false, reason });
    const r = route(j, d, { nowMs: NOW });
    expect(r.chosen).toBeNull();
    if (reason !== 'MODEL_NOT_SERVED') expect(r.rejectedCounts).toEqual({ [reason]: 1 });
}

describe('eligibility: one test per reason', () => {
    test('eligible baseline', () => {
        const d = dir();
        d.upsert(provider('a'));
        expect(eligibility(job(), d.get('a')!, d.network, NOW)).toEqual({ ok: true });
        const r = route(job(), d, { nowMs: NOW });
        expect(r.chosen?.owner).toBe('a');
        expect(r.chosen?.price).toBe(1n * TON);
        expect(r.chosen?.lock).toBe(lockFor(1n * TON, 15000));
        expect(r.rejectedCounts).toEqual({});
    });

    test('NOT_ACTIVE', () => {
        const d = dir();
        d.upsert(provider('a', { active: false }));
        expectReason(d, job(), 'a', 'NOT_ACTIVE');
    });

    test('a job for a revoked model names MODEL_NOT_ALLOWED even when every provider was pruned of it', () => {
        const d = dir();
        d.upsert(provider('a', { models: { [M1]: TON, [M2]: TON } }));
        d.markRevoked('model', M1);
        expect(d.applyProviderRevocation('a', 'model', M1)).toBe(true);
        const r = route(job(), d, { nowMs: NOW });
        expect([r.chosen, r.rejectedCounts, r.jobRejected]).toEqual([null, {}, 'MODEL_NOT_ALLOWED']);
        expect(route(job({ modelHash: M2 }), d, { nowMs: NOW }).jobRejected).toBeUndefined();
    });

    test('MEASUREMENT_REVOKED', () => {
        const d = dir();
        d.upsert(provider('a', { measurement: BAD_MEAS }));
        expectReason(d, job(), 'a', 'MEASUREMENT_REVOKED');
    });

    test('MODEL_NOT_ALLOWED', () => {
        const d = dir();
        const m3 = hashKey(3n);
        d.upsert(provider('a', { models: { [m3]: TON } }));
        expectReason(d, job({ modelHash: m3 }), 'a', 'MODEL_NOT_ALLOWED');
    });

    test('MODEL_NOT_SERVED', () => {
        const d = dir();
        d.upsert(provider('a'));
        expectReason(d, job({ modelHash: M2 }), 'a', 'MODEL_NOT_SERVED');
        // named as a candidate, route() counts it too
        expect(route(job({ modelHash: M2, candidates: ['a'] }), d, { nowMs: NOW }).rejectedCounts).toEqual({ MODEL_NOT_SERVED: 1 });
    });

    test('NOT_A_CANDIDATE', () => {
        const d = dir();
        d.upsert(provider('a'));
        d.upsert(provider('b'));
        const j = job({ candidates: ['b'] });
        expect(eligibility(j, d.get('a')!, d.network, NOW)).toEqual({ ok: false, reason: 'NOT_A_CANDIDATE' });
        const r = route(j, d, { nowMs: NOW });
        expect(r.chosen?.owner).toBe('b');
        expect(r.rejectedCounts).toEqual({ NOT_A_CANDIDATE: 1 });
    });

    test('PRICE_ABOVE_MAX (price == max is fine)', () => {
        const d = dir();
        d.upsert(provider('a'));
        expectReason(d, job({ maxPrice: TON - 1n }), 'a', 'PRICE_ABOVE_MAX');
        expect(eligibility(job({ maxPrice: TON }), d.get('a')!, d.network, NOW).ok).toBe(true);
    });

    test('INSUFFICIENT_STAKE: stake − pendingUnstake below the minimum', () => {
        const d = dir();
        d.upsert(provider('a', { stake: 20n * TON, pendingUnstake: 10n * TON + 1n }));
        expectReason(d, job(), 'a', 'INSUFFICIENT_STAKE');
        d.updateStake('a', { pendingUnstake: 10n * TON }); // exactly the minimum: allowed (>=)
        expect(eligibility(job(), d.get('a')!, d.network, NOW).ok).toBe(true);
    });

    test('INSUFFICIENT_FREE_STAKE: lock rounds up as the contract does', () => {
        const d = dir();
        // price 1 nanoTON at 1.5x: (1 * 15000 + 9999) / 10000 = 2 nanoTON of lock
        expect(lockFor(1n, 15000)).toBe(2n);
        expect(lockFor(10000n, 15000)).toBe(15000n);
        expect(lockFor(10001n, 15000)).toBe(15002n);
        const stake = 10n * TON;
        d.upsert(provider('a', { stake, locked: stake - 1n, models: { [M1]: 1n } }));
        expectReason(d, job(), 'a', 'INSUFFICIENT_FREE_STAKE');
        d.updateStake('a', { locked: stake - 2n });
        expect(eligibility(job(), d.get('a')!, d.network, NOW).ok).toBe(true);
        expect(route(job(), d, { nowMs: NOW }).chosen?.lock).toBe(2n);
    });

    test('LOCK_TOO_SMALL: a provider whose config snapshot locks less than the job requires', () => {
        const d = dir();
        d.upsert(provider('a', { config: { minProviderStake: 10n * TON, lockRatioBps: 10000 } }));
        expectReason(d, job({ lockRatioBps: 15000 }), 'a', 'LOCK_TOO_SMALL');
        // rounding can rescue it, exactly as OfferClaim's check: price 1 → lock 1 at 1.0x, 1 * 10000 >= 1 * 10000
        d.upsert({ owner: 'a', models: { [M1]: 1n } });
        expect(eligibility(job({ lockRatioBps: 10000 }), d.get('a')!, d.network, NOW).ok).toBe(true);
    });

    test('STALE_HEARTBEAT', () => {
        const d = dir();
        d.upsert(provider('a', { lastHeartbeatMs: NOW - 30_001 }));
        expectReason(d, job(), 'a', 'STALE_HEARTBEAT');
        d.heartbeat('a', NOW - 30_000);
        expect(eligibility(job(), d.get('a')!, d.network, NOW).ok).toBe(true);
    });

    test('AT_CAPACITY', () => {
        const d = dir();
        d.upsert(provider('a', { load: 4, capacity: 4 }));
        expectReason(d, job(), 'a', 'AT_CAPACITY');
        d.adjustLoad('a', -1);
        expect(eligibility(job(), d.get('a')!, d.network, NOW).ok).toBe(true);
    });

    test('DEADLINE_TOO_CLOSE (and passed deadlines)', () => {
        const d = dir();
        d.upsert(provider('a'));
        expectReason(d, job({ deadline: (NOW + 59_000) / 1000 }), 'a', 'DEADLINE_TOO_CLOSE');
        expectReason(d, job({ deadline: NOW / 1000 - 1 }), 'a', 'DEADLINE_TOO_CLOSE');
        expectReason(d, job({ deadline: NOW / 1000, minTimeLeftMs: 0 }), 'a', 'DEADLINE_TOO_CLOSE');
        expect(eligibility(job({ deadline: (NOW + 60_000) / 1000 }), d.get('a')!, d.network, NOW).ok).toBe(true);
    });

    test('every reason of the union is covered above', () => {
        expect([...INELIGIBLE_REASONS].sort()).toEqual(
            [
                'NOT_ACTIVE', 'MEASUREMENT_REVOKED', 'MODEL_NOT_ALLOWED', 'MODEL_NOT_SERVED', 'NOT_A_CANDIDATE', 'PRICE_ABOVE_MAX',
                'INSUFFICIENT_STAKE', 'INSUFFICIENT_FREE_STAKE', 'LOCK_TOO_SMALL', 'STALE_HEARTBEAT', 'AT_CAPACITY', 'DEADLINE_TOO_CLOSE',
            ].sort(),
        );
    });

    test('provider config snapshot takes precedence over the current network minimum', () => {
        const d = dir();
        d.upsert(provider('a', { stake: 5n * TON, config: { minProviderStake: 1n * TON, lockRatioBps: 15000 } }));
        expect(eligibility(job(), d.get('a')!, d.network, NOW).ok).toBe(true);
        d.setParams({ minProviderStake: 1n * TON });
        d.upsert(provider('b', { stake: 5n * TON }));
        d.setParams({ minProviderStake: 10n * TON });
        expect(eligibility(job(), d.get('b')!, d.network, NOW)).toEqual({ ok: false, reason: 'INSUFFICIENT_STAKE' });
        expect(route(job(), d, { nowMs: NOW }).rejectedCounts).toEqual({ INSUFFICIENT_STAKE: 1 });
        expect(d.verifyIndex()).toEqual([]);
    });
});

describe('route', () => {
    test('candidates are respected, in any address form', () => {
        const d = dir();
        const a = new Address(0, Buffer.alloc(32, 1));
        const b = new Address(0, Buffer.alloc(32, 2));
        d.upsert(provider(a.toString(), { models: { [M1]: TON / 2n } })); // cheaper, but not a candidate
        d.upsert(provider(b.toRawString()));
        expect(d.has(a.toRawString())).toBe(true);
        const r = route(job({ candidates: [b.toString({ bounceable: false })] }), d, { nowMs: NOW });
        expect(r.chosen?.owner).toBe(b.toRawString());
        expect(r.rejectedCounts).toEqual({ NOT_A_CANDIDATE: 1 });
        const none = route(job({ candidates: [new Address(0, Buffer.alloc(32, 3)).toRawString()] }), d, { nowMs: NOW });
        expect(none.chosen).toBeNull();
        expect(none.rejectedCounts).toEqual({ UNKNOWN_PROVIDER: 1, NOT_A_CANDIDATE: 2 });
    });

    test('exclusion on re-route, also among candidates', () => {
        const d = dir();
        for (const o of ['a', 'b', 'c']) d.upsert(provider(o));
        const first = route(job(), d, { nowMs: NOW });
        const second = route(job(), d, { nowMs: NOW, exclude: new Set([first.chosen!.owner]) });
        expect(second.chosen!.owner).not.toBe(first.chosen!.owner);
        expect(second.rejectedCounts).toEqual({ EXCLUDED: 1 });
        const third = route(job(), d, { nowMs: NOW, exclude: new Set([first.chosen!.owner, second.chosen!.owner]) });
        expect(third.ranked.map((x) => x.owner)).toEqual([['a', 'b', 'c'].find((o) => o !== first.chosen!.owner && o !== second.chosen!.owner)]);
        expect(route(job(), d, { nowMs: NOW, exclude: new Set(['a', 'b', 'c']) }).chosen).toBeNull();
        const cand = route(job({ candidates: ['a', 'b'] }), d, { nowMs: NOW, exclude: new Set(['a']) });
        expect(cand.chosen!.owner).toBe('b');
        expect(cand.rejectedCounts).toEqual({ EXCLUDED: 1, NOT_A_CANDIDATE: 1 });
        // the exclusion lasts one route only
        expect(route(job(), d, { nowMs: NOW }).chosen!.owner).toBe(first.chosen!.owner);
        expect(d.verifyIndex()).toEqual([]);
    });

    test('cheaper wins when all else is equal', () => {
        const d = dir();
        d.upsert(provider('a', { models: { [M1]: TON } }));
        d.upsert(provider('b', { models: { [M1]: TON - 1_000_000n } }));
        for (let i = 0; i < 20; i++) expect(route(job({ jobId: i }), d, { nowMs: NOW }).chosen!.owner).toBe('b');
    });

    test('faster wins when all else is equal', () => {
        const d = dir();
        d.upsert(provider('a', { latencyEwmaMs: 800 }));
        d.upsert(provider('b', { latencyEwmaMs: 700 }));
        for (let i = 0; i < 20; i++) expect(route(job({ jobId: i }), d, { nowMs: NOW }).chosen!.owner).toBe('b');
    });

    test('less loaded wins when all else is equal', () => {
        const d = dir();
        d.upsert(provider('a', { load: 2, capacity: 4 }));
        d.upsert(provider('b', { load: 1, capacity: 4 }));
        for (let i = 0; i < 20; i++) expect(route(job({ jobId: i }), d, { nowMs: NOW }).chosen!.owner).toBe('b');
        // dispatching to b makes them equal again; then both get picked
        d.adjustLoad('b', 1);
        const winners = new Set(Array.from({ length: 50 }, (_, i) => route(job({ jobId: i }), d, { nowMs: NOW }).chosen!.owner));
        expect(winners).toEqual(new Set(['a', 'b']));
    });

    test('success rate: failures push a provider down; Laplace smoothing keeps newcomers in the middle', () => {
        const d = dir();
        const r = new Router(d);
        d.upsert(provider('a'));
        d.upsert(provider('b'));
        for (let i = 0; i < 5; i++) r.recordOutcome('a', { ok: false });
        for (let i = 0; i < 20; i++) expect(r.route(job({ jobId: i }), { nowMs: NOW }).chosen!.owner).toBe('b');
        expect(r.route(job(), { nowMs: NOW }).chosen!.components.success).toBeCloseTo(0.5);
        expect(r.route(job(), { nowMs: NOW }).ranked[1].components.success).toBeCloseTo(1 / 7);
        for (let i = 0; i < 20; i++) r.recordOutcome('a', { ok: true, latencyMs: 1000 });
        // 20 successes, 5 failures: (21 / 27) beats b's 1 / 2 (same prior latency of 1000 ms)
        expect(r.route(job(), { nowMs: NOW }).chosen!.owner).toBe('a');
    });

    test('recordOutcome keeps an EWMA of successful latencies', () => {
        const d = new ProviderDirectory({ ewmaAlpha: 0.5 });
        d.upsert(provider('a'));
        d.recordOutcome('a', { ok: true, latencyMs: 100 });
        expect(d.get('a')!.latencyEwmaMs).toBe(100);
        d.recordOutcome('a', { ok: true, latencyMs: 300 });
        expect(d.get('a')!.latencyEwmaMs).toBe(200);
        d.recordOutcome('a', { ok: false, latencyMs: 10_000 });
        expect(d.get('a')!.latencyEwmaMs).toBe(200);
        expect(d.get('a')).toMatchObject({ successCount: 2, failureCount: 1 });
        expect(d.recordOutcome('nobody', { ok: true })).toBe(false);
        expect(d.verifyIndex()).toEqual([]);
    });

    test('weights are configurable: with only the price weight, the cheapest wins despite load', () => {
        const d = dir();
        d.upsert(provider('a', { models: { [M1]: TON }, load: 0 }));
        d.upsert(provider('b', { models: { [M1]: TON / 2n }, load: 3 }));
        expect(route(job(), d, { nowMs: NOW }).chosen!.owner).toBe('a');
        const r = route(job(), d, { nowMs: NOW, score: { weights: { load: 0, latency: 0, success: 0, price: 1 } } });
        expect(r.chosen!.owner).toBe('b');
        expect(r.chosen!.score).toBeCloseTo(0.75);
        // switching back recomputes the cached quality
        expect(route(job(), d, { nowMs: NOW }).chosen!.owner).toBe('a');
    });

    test('ranked is the top k, best first, with scores equal to score()', () => {
        const d = dir();
        for (let i = 0; i < 10; i++) d.upsert(provider(`p${i}`, { load: i % 4, latencyEwmaMs: 100 * (i + 1), successCount: i }));
        const r = route(job(), d, { nowMs: NOW, k: 4 });
        expect(r.ranked).toHaveLength(4);
        expect(r.eligible).toBe(10);
        for (let i = 1; i < r.ranked.length; i++) expect(r.ranked[i - 1].score).toBeGreaterThanOrEqual(r.ranked[i].score);
        for (const x of r.ranked) expect(x.score).toBe(score(x.provider, Number(x.price), Number(job().maxPrice), DEFAULT_SCORE_CONFIG));
        const all = [...d.entries()].map((e) => score(e, Number(TON), Number(2n * TON), DEFAULT_SCORE_CONFIG)).sort((a, b) => b - a);
        expect(r.ranked.map((x) => x.score)).toEqual(all.slice(0, 4));
    });

    test('same job → same provider (deterministic); different jobs spread over equal providers', () => {
        const d = dir();
        for (let i = 0; i < 10; i++) d.upsert(provider(`0:${i.toString(16).padStart(64, '0')}`));
        expect(route(job({ jobId: 42n }), d, { nowMs: NOW }).chosen!.owner).toBe(route(job({ jobId: 42n }), d, { nowMs: NOW }).chosen!.owner);
        const wins = new Map<string, number>();
        for (let i = 0; i < 1000; i++) {
            const o = route(job({ jobId: BigInt(i) }), d, { nowMs: NOW }).chosen!.owner;
            wins.set(o, (wins.get(o) ?? 0) + 1);
        }
        expect(wins.size).toBe(10);
        for (const n of wins.values()) expect(n).toBeLessThanOrEqual(200);
    });

    test('an injected rng decides ties', () => {
        const d = dir();
        d.upsert(provider('a'));
        d.upsert(provider('b'));
        let x = 0;
        const seq = [0.9, 0.1]; // a draws 0.9, b draws 0.1: the lower key wins
        expect(route(job(), d, { nowMs: NOW, rng: () => seq[x++ % 2] }).chosen!.owner).toBe('b');
        x = 0;
        const rev = [0.1, 0.9];
        expect(route(job(), d, { nowMs: NOW, rng: () => rev[x++ % 2] }).chosen!.owner).toBe('a');
    });

    test('markRevoked removes providers from routing (measurement and model)', () => {
        const d = dir();
        const other = hashKey(0xccccn);
        d.allowMeasurement(other);
        d.upsert(provider('a', { models: { [M1]: TON, [M2]: TON } }));
        d.upsert(provider('b', { measurement: other }));
        expect(route(job(), d, { nowMs: NOW }).eligible).toBe(2);
        expect(d.markRevoked('measurement', other)).toBe(1);
        const r = route(job(), d, { nowMs: NOW });
        expect(r.chosen!.owner).toBe('a');
        expect(r.rejectedCounts).toEqual({ MEASUREMENT_REVOKED: 1 });
        expect(d.markRevoked('model', M1)).toBe(2);
        expect(route(job(), d, { nowMs: NOW }).rejectedCounts).toEqual({ MODEL_NOT_ALLOWED: 2 });
        expect(route(job({ modelHash: M2 }), d, { nowMs: NOW }).chosen!.owner).toBe('a');
        // on-chain revocation landing on one provider (EnclaveRevoked)
        expect(d.applyProviderRevocation('a', 'model', M2)).toBe(true);
        expect(d.ownersForModel(M2).size).toBe(0);
        expect(route(job({ modelHash: M2 }), d, { nowMs: NOW }).chosen).toBeNull();
        d.allowModel(M1);
        expect(d.applyProviderRevocation('a', 'measurement', MEAS)).toBe(true);
        expect(route(job(), d, { nowMs: NOW }).rejectedCounts).toEqual({ NOT_ACTIVE: 1, MEASUREMENT_REVOKED: 1 });
        expect(d.verifyIndex()).toEqual([]);
    });

    test('model index stays consistent through upserts, price changes and removals', () => {
        const d = dir();
        d.upsert(provider('a', { models: { [M1]: TON, [M2]: TON } }));
        d.upsert(provider('b', { models: { [M1]: TON } }));
        d.upsert(provider('c', { models: { [M2]: 2n * TON } }));
        expect([...d.ownersForModel(M1)].sort()).toEqual(['a', 'b']);
        expect([...d.ownersForModel(M2)].sort()).toEqual(['a', 'c']);
        d.upsert({ owner: 'a', models: { [M2]: TON / 2n } }); // drops M1, reprices M2
        expect([...d.ownersForModel(M1)]).toEqual(['b']);
        expect(route(job({ modelHash: M2 }), d, { nowMs: NOW }).chosen).toMatchObject({ owner: 'a', price: TON / 2n });
        d.remove('b');
        expect(d.ownersForModel(M1).size).toBe(0);
        expect(d.indexedModels()).toEqual([M2]);
        expect(route(job(), d, { nowMs: NOW })).toMatchObject({ chosen: null, considered: 0, rejectedCounts: {} });
        d.upsert({ owner: 'a', stake: 1n }); // no models field: the list is kept
        expect([...d.ownersForModel(M2)].sort()).toEqual(['a', 'c']);
        expect(d.verifyIndex()).toEqual([]);
        // ids of removed providers are reused without leaking state
        d.remove('c');
        d.upsert(provider('d', { models: { [M2]: TON } }));
        expect(d.get('d')).toMatchObject({ successCount: 0, failureCount: 0, latencyEwmaMs: null });
        expect(d.verifyIndex()).toEqual([]);
    });

    test('random churn: route() agrees with eligibility() on every provider, and the index stays consistent', () => {
        let seed = 12345;
        const rnd = () => {
            seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
            return seed / 4294967296;
        };
        const d = dir();
        const models = [M1, M2, hashKey(3n)];
        d.allowModel(models[2]);
        const owners = Array.from({ length: 60 }, (_, i) => `p${i}`);
        let eligibleSeen = 0;
        let rejectedSeen = 0;
        for (let step = 0; step < 400; step++) {
            const o = owners[Math.floor(rnd() * owners.length)];
            const op = rnd();
            if (op < 0.5) {
                const served: Record<string, bigint> = {};
                for (const m of models) if (rnd() < 0.6) served[m] = BigInt(1 + Math.floor(rnd() * 3 * Number(TON)));
                d.upsert(provider(o, {
                    models: served,
                    stake: BigInt(Math.floor(rnd() * 30)) * TON,
                    locked: BigInt(Math.floor(rnd() * 10)) * TON,
                    pendingUnstake: rnd() < 0.2 ? 5n * TON : 0n,
                    active: rnd() > 0.1,
                    measurement: rnd() < 0.1 ? BAD_MEAS : MEAS,
                    config: rnd() < 0.2 ? { minProviderStake: 5n * TON, lockRatioBps: 10000 } : null,
                    lastHeartbeatMs: NOW - Math.floor(rnd() * 40_000),
                    load: Math.floor(rnd() * 5),
                    capacity: Math.floor(rnd() * 5),
                }));
            } else if (op < 0.6) d.remove(o);
            else if (op < 0.8) d.updateStake(o, { locked: BigInt(Math.floor(rnd() * 20)) * TON });
            else d.recordOutcome(o, { ok: rnd() < 0.8, latencyMs: rnd() * 3000 });
            if (step % 20 === 0) {
                expect(d.verifyIndex()).toEqual([]);
                for (const m of models) {
                    for (const withCandidates of [false, true]) {
                        const j = job({
                            jobId: step,
                            modelHash: m,
                            maxPrice: BigInt(Math.floor(rnd() * 3 * Number(TON))),
                            lockRatioBps: rnd() < 0.5 ? 15000 : 10000,
                            candidates: withCandidates ? owners.slice(0, 4) : undefined,
                        });
                        const exclude = new Set([owners[Math.floor(rnd() * owners.length)]]);
                        const r = route(j, d, { nowMs: NOW, exclude, k: 100 });
                        const want: Record<string, number> = {};
                        const ok: string[] = [];
                        for (const e of d.entries()) {
                            const el = eligibility(j, e, d.network, NOW);
                            if (el.ok === false && el.reason === 'MODEL_NOT_SERVED' && !(withCandidates && owners.slice(0, 4).includes(e.owner))) continue;
                            if (el.ok === false && el.reason !== 'NOT_A_CANDIDATE' && el.reason !== 'MODEL_NOT_SERVED' && exclude.has(e.owner)) {
                                want.EXCLUDED = (want.EXCLUDED ?? 0) + 1;
                            } else if (el.ok && exclude.has(e.owner)) want.EXCLUDED = (want.EXCLUDED ?? 0) + 1;
                            else if (el.ok) ok.push(e.owner);
                            else want[el.reason] = (want[el.reason] ?? 0) + 1;
                        }
                        // job-level failures come before exclusion
                        if (want.MODEL_NOT_ALLOWED || want.DEADLINE_TOO_CLOSE) delete want.EXCLUDED;
                        for (const c of withCandidates ? owners.slice(0, 4) : []) if (!d.has(c)) want.UNKNOWN_PROVIDER = (want.UNKNOWN_PROVIDER ?? 0) + 1;
                        expect(r.rejectedCounts).toEqual(want);
                        expect(r.ranked.map((x) => x.owner).sort()).toEqual(ok.sort());
                        eligibleSeen += r.eligible;
                        rejectedSeen += Object.keys(want).length;
                    }
                }
            }
        }
        expect(eligibleSeen).toBeGreaterThan(20);
        expect(rejectedSeen).toBeGreaterThan(50);
    });

    test('jobFromOpened adapts the JobOpened event', () => {
        const a = new Address(0, Buffer.alloc(32, 5));
        const candidates = Dictionary.empty(Dictionary.Keys.Address(), Dictionary.Values.Bool());
        candidates.set(a, true);
        const j = jobFromOpened({ jobId: 7n, maxPrice: TON, deadline: 1_900_000_000n, modelHash: 1n, candidates });
        expect(j).toEqual({ jobId: 7n, modelHash: 1n, maxPrice: TON, deadline: 1_900_000_000, candidates: [a.toRawString()] });
        const d = dir();
        d.upsert(provider(a.toString()));
        expect(route(j, d, { nowMs: NOW }).chosen!.owner).toBe(a.toRawString());
    });
});
