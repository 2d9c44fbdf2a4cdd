/**
 * The reasons a dispatch records when routing finds nobody: what operators read in the dead-letter queue and in a
 * job's status (docs/operations.md, "Dead letters").
 */
import { noProviderReason } from '../../orchestrator/dispatch/dispatcher';

describe('noProviderReason', () => {
    it('counts each rejection', () => {
        expect(noProviderReason({ rejectedCounts: { NOT_A_CANDIDATE: 1, STALE_HEARTBEAT: 2 } })).toBe('NO_ELIGIBLE_PROVIDER: NOT_A_CANDIDATE=1, STALE_HEARTBEAT=2');
    });

    it('names the job-level rule when no provider is left to count (every one pruned of a revoked model)', () => {
        expect(noProviderReason({ rejectedCounts: {}, jobRejected: 'MODEL_NOT_ALLOWED' })).toBe('NO_ELIGIBLE_PROVIDER: MODEL_NOT_ALLOWED (no provider serves the model)');
        expect(noProviderReason({ rejectedCounts: {} })).toBe('NO_ELIGIBLE_PROVIDER: no provider serves the model');
    });

    it('keeps the previous look\'s reasons when the last look came after the deadline got too close', () => {
        const late = { rejectedCounts: { DEADLINE_TOO_CLOSE: 2 }, jobRejected: 'DEADLINE_TOO_CLOSE' as const };
        expect(noProviderReason(late, 'NO_ELIGIBLE_PROVIDER: NOT_A_CANDIDATE=1, STALE_HEARTBEAT=1')).toBe(
            'NO_ELIGIBLE_PROVIDER: NOT_A_CANDIDATE=1, STALE_HEARTBEAT=1; then DEADLINE_TOO_CLOSE=2',
        );
        // a deadline too short from the first look has no earlier reason
        expect(noProviderReason(late)).toBe('NO_ELIGIBLE_PROVIDER: DEADLINE_TOO_CLOSE=2');
        // a note of another kind (a busy wait) is not a routing verdict to carry over
        expect(noProviderReason(late, 'AT_CAPACITY: waiting for a free slot (AT_CAPACITY=1; next look in 1000 ms)')).toBe('NO_ELIGIBLE_PROVIDER: DEADLINE_TOO_CLOSE=2');
        // other rejections are this look's own verdict
        expect(noProviderReason({ rejectedCounts: { STALE_HEARTBEAT: 1 } }, 'NO_ELIGIBLE_PROVIDER: NOT_A_CANDIDATE=1')).toBe('NO_ELIGIBLE_PROVIDER: STALE_HEARTBEAT=1');
    });
});
