/**
 * JobHandle: one job after it was opened. Its state comes from polling the escrow's `state` getter while someone
 * listens or waits: again each time the escrow has a new transaction (the devnet pushes it), or every pollMs
 * (250 ms) on endpoints that cannot push. Events fire in lifecycle order even when a poll skipped a state (a job
 * first seen Settled emits opened, claimed, committed, settled), and each is followed by a 'progress' event.
 */
import { EventEmitter } from 'events';
import { Address, beginCell, toNano } from '@ton/core';
import type { Logger } from 'pino';
import { ChainClient, WalletSender } from '../../protocol/chain';
import { storeAcceptResult, storeCancelJob } from '../../wrappers';
import { ApiDispatchStatus, OrchestratorApi } from './api';
import { JobSnapshot, JobStateName, readJob } from './chainJob';
import { CocoonError } from './errors';
import { ResolvedModel } from './models';
import { ProviderInfo } from './providers';
import { JobResult, verifyAndOpenResult } from './result';
import { VerifiedProvider } from './verifyProvider';

export type JobEventName = 'opened' | 'claimed' | 'committed' | 'settled' | 'cancelled' | 'expired';
export type WaitState = 'open' | 'claimed' | 'committed' | 'settled' | 'cancelled' | 'expired';

export interface ProgressEvent {
    stage: string;
    /** ms since epoch */
    atMs: number;
    /** ms since the submit began (or the handle was made) */
    elapsedMs: number;
    detail?: Record<string, unknown>;
}

/** Value attached to AcceptResult / CancelJob; the escrow refunds what it does not use with its final refund. */
export const CLIENT_ACTION_VALUE = toNano('0.05');

const TERMINAL: ReadonlySet<JobStateName> = new Set(['Settled', 'Cancelled', 'Expired']);

/** The events a state implies, in order. */
function impliedEvents(s: JobSnapshot): JobEventName[] {
    switch (s.state) {
        case 'Open':
            return ['opened'];
        case 'Claimed':
            return ['opened', 'claimed'];
        case 'Committed':
            return ['opened', 'claimed', 'committed'];
        case 'Settled':
            return ['opened', 'claimed', 'committed', 'settled'];
        case 'Cancelled':
            return ['opened', 'cancelled'];
        case 'Expired':
            return s.claim ? ['opened', 'claimed', 'expired'] : ['opened', 'expired'];
        default:
            return [];
    }
}

const RANK: Record<string, number> = { Open: 1, Claimed: 2, Committed: 3, Settled: 4 };
const TARGET: Record<WaitState, JobStateName> = { open: 'Open', claimed: 'Claimed', committed: 'Committed', settled: 'Settled', cancelled: 'Cancelled', expired: 'Expired' };

/** Whether `s` is at or past `target` on the happy path, or exactly the terminal target. */
function reached(s: JobSnapshot, target: JobStateName): boolean {
    if (target === 'Cancelled' || target === 'Expired') return s.state === target;
    return s.state in RANK && RANK[s.state] >= RANK[target];
}

export interface JobHandleContext {
    chain: ChainClient;
    api: OrchestratorApi;
    wallet: WalletSender;
    logger: Logger;
    pollMs: number;
    /** the attested record of a provider for this job's model (verifyProvider against the chain), if it passes */
    attest(owner: Address): Promise<VerifiedProvider | undefined>;
}

export interface JobHandleInit {
    jobId: bigint;
    address: Address;
    inputCommitment: string;
    model: ResolvedModel;
    deadline: number;
    /** the candidates named in the job (with their verified records when this process submitted it) */
    candidates: ProviderInfo[] | Address[];
    resultKey?: { publicKey: Buffer; privateKey: Buffer };
    startedAtMs?: number;
    onProgress?: (p: ProgressEvent) => void;
}

export class JobHandle extends EventEmitter {
    readonly jobId: bigint;
    readonly address: Address;
    readonly inputCommitment: string;
    readonly model: ResolvedModel;
    readonly deadline: number;
    readonly candidates: ProviderInfo[] | Address[];
    private readonly resultKey?: { publicKey: Buffer; privateKey: Buffer };
    private readonly startedAtMs: number;
    private readonly onProgress?: (p: ProgressEvent) => void;
    private readonly emitted = new Set<JobEventName>();
    /** the escrow's last transaction lt when `last` was read */
    private lastReadLt?: bigint;
    /** lifecycle stages already reported as progress (submit reports 'opened' itself) */
    private readonly progressed = new Set<string>();
    private readonly waiters = new Set<(s: JobSnapshot | Error) => void>();
    private timer: NodeJS.Timeout | undefined;
    /** Bumped whenever polling (re)starts: a push wait of an older poller ends without polling. */
    private pollGeneration = 0;
    private polling = false;
    private last: JobSnapshot | undefined;

    constructor(
        private readonly ctx: JobHandleContext,
        init: JobHandleInit,
    ) {
        super();
        this.jobId = init.jobId;
        this.address = init.address;
        this.inputCommitment = init.inputCommitment;
        this.model = init.model;
        this.deadline = init.deadline;
        this.candidates = init.candidates;
        this.resultKey = init.resultKey;
        this.startedAtMs = init.startedAtMs ?? Date.now();
        this.onProgress = init.onProgress;
        // Start polling when someone subscribes to a job event; the poller stops itself when nobody listens.
        this.on('newListener', (name: string) => {
            if (name !== 'newListener' && name !== 'removeListener') setImmediate(() => this.ensurePolling());
        });
    }

    /** The latest state read from the chain (fresh read). */
    async status(): Promise<JobSnapshot> {
        const s = await readJob(this.ctx.chain, this.address);
        this.observe(s);
        return s;
    }

    /** The snapshot of the last poll, if any. */
    get lastSnapshot(): JobSnapshot | undefined {
        return this.last;
    }

    /** Reports a lifecycle stage once, however many times it is observed. */
    stage(stage: string, detail?: Record<string, unknown>): void {
        if (this.progressed.has(stage)) return;
        this.progressed.add(stage);
        this.progress(stage, detail);
    }

    /** Emits a progress stage (also to the submit's onProgress). */
    progress(stage: string, detail?: Record<string, unknown>): void {
        const now = Date.now();
        const p: ProgressEvent = { stage, atMs: now, elapsedMs: now - this.startedAtMs, ...(detail ? { detail } : {}) };
        this.onProgress?.(p);
        this.emit('progress', p);
    }

    /**
     * Resolves once the job reached `state` (for open/claimed/committed/settled: that state or a later one on the
     * happy path). Rejects with JOB_CANCELLED / JOB_EXPIRED when the job ended otherwise, JOB_EXPIRED when the
     * deadline passed without reaching it, DEAD_LETTER when the orchestrator gave up routing it, TIMEOUT after
     * timeoutMs (default: until the deadline plus a minute).
     */
    async waitFor(state: WaitState, opts: { timeoutMs?: number } = {}): Promise<JobSnapshot> {
        const key = String(state).toLowerCase() as WaitState;
        const target = TARGET[key];
        if (!target) throw new CocoonError('BAD_ARGUMENT', `unknown job state ${JSON.stringify(state)}`, `use one of ${Object.keys(TARGET).join(', ')}`);
        const timeoutMs = opts.timeoutMs ?? Math.max(10_000, (this.deadline + 60) * 1000 - Date.now());
        return new Promise<JobSnapshot>((resolve, reject) => {
            let lastDeadCheck = 0;
            let checking = false;
            const finish = (r: JobSnapshot | Error) => {
                clearTimeout(timer);
                this.waiters.delete(waiter);
                if (r instanceof Error) reject(r);
                else resolve(r);
            };
            const timer = setTimeout(() => {
                const at = this.last ? ` (it is ${this.last.state})` : '';
                finish(new CocoonError('TIMEOUT', `job ${this.jobId} did not become ${target} within ${timeoutMs} ms${at}`, 'wait longer, or check `cocoon job status`'));
            }, timeoutMs);
            const waiter = (s: JobSnapshot | Error) => {
                if (s instanceof Error) return; // a failed poll: the next one retries; the timeout bounds the wait
                if (reached(s, target)) return finish(s);
                const failure = this.unreachable(s, target);
                if (failure) return finish(failure);
                // Still Open/Claimed: ask the orchestrator now and then whether it gave up on the job.
                if ((target === 'Claimed' || target === 'Committed' || target === 'Settled') && s.state === 'Open' && !checking && Date.now() - lastDeadCheck > 2_000) {
                    lastDeadCheck = Date.now();
                    checking = true;
                    this.ctx.api
                        .dispatchStatus(this.address.toRawString())
                        .then((d) => {
                            if (d?.state === 'dead') finish(this.deadLetter(d));
                        })
                        .catch(() => undefined)
                        .finally(() => (checking = false));
                }
            };
            this.waiters.add(waiter);
            this.ensurePolling(true);
        });
    }

    private deadLetter(d: ApiDispatchStatus): CocoonError {
        return new CocoonError(
            'DEAD_LETTER',
            `the orchestrator could not get job ${this.jobId} run by any provider${d.reason ? `: ${d.reason}` : ''}`,
            `cancel the job to get your payment back: cocoon job cancel --job ${this.address.toString()} (or handle.cancel())`,
        );
    }

    private unreachable(s: JobSnapshot, target: JobStateName): CocoonError | undefined {
        if (s.state === 'Cancelled' && target !== 'Cancelled') return new CocoonError('JOB_CANCELLED', `job ${this.jobId} was cancelled`, 'the payment was refunded to the client');
        if (s.state === 'Expired' && target !== 'Expired') return new CocoonError('JOB_EXPIRED', `job ${this.jobId} expired without a result`, 'the payment (and any slashed stake) was refunded: submit it again');
        if (TERMINAL.has(s.state) && s.state !== target) return new CocoonError('WRONG_STATE', `job ${this.jobId} ended ${s.state}, it cannot become ${target}`);
        if ((target === 'Cancelled' || target === 'Expired') && s.state !== 'Open' && s.state !== 'Claimed' && s.state !== target && !TERMINAL.has(s.state)) {
            if (target === 'Cancelled') return new CocoonError('WRONG_STATE', `job ${this.jobId} is ${s.state}: it can no longer be cancelled`);
        }
        const grace = 5;
        if ((s.state === 'Open' || s.state === 'Claimed') && target !== 'Cancelled' && target !== 'Expired' && Date.now() / 1000 > s.deadline + grace) {
            return new CocoonError('JOB_EXPIRED', `job ${this.jobId} passed its deadline (${new Date(s.deadline * 1000).toISOString()}) while ${s.state}`, 'it can be expired on chain (ExpireJob) for a full refund; the orchestrator does so shortly after the deadline');
        }
        return undefined;
    }

    /** Waits for the committed result, checks it against the chain and decrypts it (see result.ts). */
    async result(opts: { timeoutMs?: number } = {}): Promise<JobResult> {
        if (!this.resultKey) throw new CocoonError('NO_RESULT_KEY', `this handle of job ${this.jobId} has no result key`, 'open the handle with the key file written at submit (client.job(address, { resultKey }))');
        const snap = await this.waitFor('committed', opts);
        const r = await verifyAndOpenResult({
            chain: this.ctx.chain,
            api: this.ctx.api,
            job: snap.outputCommitment ? snap : await this.status(),
            resultPrivateKey: this.resultKey.privateKey,
            resultPublicKey: this.resultKey.publicKey,
            attested: (owner) => this.ctx.attest(owner),
        });
        this.ctx.logger.info({ job: this.address.toRawString(), jobId: String(this.jobId), provider: r.provider.toRawString(), outputCommitment: r.outputCommitment, bytes: r.bytes.length }, 'result verified');
        this.stage('verified', { checks: r.verifications.length });
        return r;
    }

    /** AcceptResult: pays the provider at once (no dispute window). Call it after result() verified the output. */
    async accept(opts: { timeoutMs?: number } = {}): Promise<JobSnapshot> {
        const s = await this.status();
        if (s.state === 'Settled') return s;
        if (s.state !== 'Committed') throw new CocoonError('WRONG_STATE', `job ${this.jobId} is ${s.state}: only a Committed job can be accepted`, s.state === 'Open' || s.state === 'Claimed' ? 'wait for the result first (result())' : undefined);
        this.requireClient(s);
        await this.send(beginCell().store(storeAcceptResult({ $$type: 'AcceptResult', queryId: 0n })).endCell(), 'AcceptResult');
        const done = await this.waitFor('settled', { timeoutMs: opts.timeoutMs ?? 60_000 });
        this.ctx.logger.info({ job: this.address.toRawString(), jobId: String(this.jobId) }, 'job accepted and settled');
        return done;
    }

    /** CancelJob: only while the job is Open (no provider claimed it); the escrow refunds everything. */
    async cancel(opts: { timeoutMs?: number } = {}): Promise<JobSnapshot> {
        const s = await this.status();
        if (s.state === 'Cancelled') return s;
        if (s.state !== 'Open') {
            throw new CocoonError(
                'WRONG_STATE',
                `job ${this.jobId} is ${s.state}: only an Open job can be cancelled`,
                s.state === 'Claimed' ? 'a provider is running it: wait for the result, or for the deadline (an expired job refunds you in full)' : s.state === 'Committed' ? 'the result is ready: fetch it and accept it' : undefined,
            );
        }
        this.requireClient(s);
        await this.send(beginCell().store(storeCancelJob({ $$type: 'CancelJob', queryId: 0n })).endCell(), 'CancelJob');
        const timeoutMs = opts.timeoutMs ?? 60_000;
        const until = Date.now() + timeoutMs;
        for (;;) {
            const now = await this.status();
            if (now.state === 'Cancelled') {
                this.ctx.logger.info({ job: this.address.toRawString(), jobId: String(this.jobId) }, 'job cancelled');
                return now;
            }
            if (now.state !== 'Open') throw new CocoonError('WRONG_STATE', `job ${this.jobId} was ${now.state} before the cancel arrived`, 'the cancel bounced back to your wallet; wait for the result instead');
            if (Date.now() > until) throw new CocoonError('TIMEOUT', `job ${this.jobId} is still Open ${timeoutMs} ms after CancelJob`, 'check `cocoon job status`');
            await new Promise((r) => setTimeout(r, this.ctx.pollMs));
        }
    }

    private requireClient(s: JobSnapshot): void {
        if (!s.client.equals(this.ctx.wallet.address)) {
            throw new CocoonError('NOT_CLIENT', `job ${this.jobId} belongs to ${s.client.toString()}, not to this wallet (${this.ctx.wallet.address.toString()})`, "use the job's client wallet");
        }
    }

    private async send(body: ReturnType<ReturnType<typeof beginCell>['endCell']>, what: string): Promise<void> {
        const balance = await this.ctx.wallet.getBalance();
        if (balance < CLIENT_ACTION_VALUE + toNano('0.01')) {
            throw new CocoonError('INSUFFICIENT_FUNDS', `the wallet holds ${balance} nanoTON, ${what} needs about ${CLIENT_ACTION_VALUE + toNano('0.01')}`, `fund ${this.ctx.wallet.address.toString()}`);
        }
        try {
            await this.ctx.wallet.transfer([{ to: this.address, value: CLIENT_ACTION_VALUE, body, bounce: true }]);
        } catch (e) {
            throw new CocoonError('CHAIN_ERROR', `sending ${what} failed: ${(e as Error).message}`, 'retry; the message was not applied');
        }
    }

    // ---------------------------------------------------------------------------------------------- polling

    private listening(): boolean {
        return this.waiters.size > 0 || (['opened', 'claimed', 'committed', 'settled', 'cancelled', 'expired', 'progress'] as const).some((e) => this.listenerCount(e) > 0);
    }

    private ensurePolling(now = false): void {
        if (this.polling || !this.listening()) return;
        if (this.last && TERMINAL.has(this.last.state)) {
            // Nothing will change any more: answer waiters from what we know.
            for (const w of [...this.waiters]) w(this.last);
            return;
        }
        this.polling = true;
        this.pollGeneration++; // a wait still pending from before close() must not start a second poller
        this.timer = setTimeout(() => void this.tick(), now ? 0 : this.ctx.pollMs);
    }

    private async tick(): Promise<void> {
        let s: JobSnapshot | Error;
        try {
            // Get methods are the expensive read: re-run them only when the escrow has a new transaction.
            const lastLt = (await this.ctx.chain.getAccount(this.address)).lastTransaction?.lt;
            if (this.last && lastLt !== undefined && lastLt === this.lastReadLt) {
                s = this.last;
            } else {
                s = await readJob(this.ctx.chain, this.address);
                this.lastReadLt = lastLt;
            }
            this.observe(s);
        } catch (e) {
            s = e as Error;
            this.ctx.logger.warn({ job: this.address.toRawString(), err: (e as Error).message.slice(0, 200) }, 'job poll failed');
        }
        for (const w of [...this.waiters]) w(s);
        this.polling = false;
        if (!(s instanceof Error) && TERMINAL.has(s.state)) return;
        if (!this.listening()) return;
        this.polling = true;
        if (s instanceof Error || this.lastReadLt === undefined) {
            this.timer = setTimeout(() => void this.tick(), this.ctx.pollMs);
            return;
        }
        // the next poll once the escrow has a new transaction (pushed by the devnet; after pollMs elsewhere)
        const generation = ++this.pollGeneration;
        const next = () => {
            if (this.polling && this.pollGeneration === generation) void this.tick();
        };
        this.ctx.chain.waitForTransactions([this.address], this.lastReadLt, this.ctx.pollMs).then(next, next);
    }

    /** Records a snapshot and emits the events it implies that were not emitted yet. */
    private observe(s: JobSnapshot): void {
        this.last = s;
        for (const ev of impliedEvents(s)) {
            if (this.emitted.has(ev)) continue;
            this.emitted.add(ev);
            this.emit(ev, s);
            const detail: Record<string, unknown> = { jobId: String(s.jobId) };
            if (ev === 'claimed' && s.claim) Object.assign(detail, { provider: s.claim.provider.toString(), price: String(s.claim.price) });
            if (ev === 'committed' && s.outputCommitment) detail.outputCommitment = s.outputCommitment;
            this.stage(ev, detail);
        }
    }

    /** Stops polling (waiters then end by their timeouts). */
    close(): void {
        if (this.timer) clearTimeout(this.timer);
        this.polling = false;
        this.pollGeneration++;
        this.removeAllListeners();
    }
}
