import * as crypto from 'crypto';
import { ed25519PrivateKeyObject } from '../ed25519';
/**
 * WalletSender: sends messages from a standard wallet (V4R2 or V5R1) through a ChainClient.
 *
 *  - Sends from one wallet are serialized (per address, across all WalletSender instances and endpoints of the
 *    process): each transfer reads the seqno, signs, submits, and holds the wallet until its transaction is seen.
 *  - Inclusion = the seqno advanced AND the wallet has a transaction whose inbound external message has our
 *    TEP-467 normalized hash. If the seqno advanced without our message: SeqnoConflictError. Past valid_until
 *    without it: InclusionTimeoutError (expired = true, it can never land).
 *  - A submission that fails on the network is not blindly resent: first the wallet's transactions are searched
 *    for the message hash; only when it has not landed, is still valid, and the error was transient is the very
 *    same BoC sent again (same seqno, same hash: it can land at most once).
 *  - Usable as a @ton/core Sender, so wrappers can `contract.send(walletSender, …)`; `send` waits for inclusion.
 *  - With `batch`, transfers asked for while the wallet waits for its previous transaction are coalesced into the
 *    next one (up to MAX_BATCH_MESSAGES[version] messages): a wallet lands one transaction per seqno, so without
 *    this a busy worker or client could send one message per round trip (per block, on a real network). Each
 *    caller still gets its own promise and the shared transaction; `sentMessage` finds its message in it.
 */
import { KeyPair, mnemonicToPrivateKey } from '@ton/crypto';
import {
    Address,
    Cell,
    Message,
    MessageRelaxed,
    Sender,
    SenderArguments,
    SendMode,
    StateInit,
    beginCell,
    external,
    internal,
    storeMessage,
} from '@ton/core';
import { WalletContractV4, WalletContractV5R1 } from '@ton/ton';
import { AccountState, ChainClient, ChainTransaction } from './client';
import { ChainApiError, ChainNetworkError, InclusionTimeoutError, SendRejectedError, SeqnoConflictError } from './errors';
import { normalizedMessageHash } from './hash';
import { backoffDelay } from './transport';

export type WalletVersion = 'v4' | 'v5r1';

export interface WalletSenderOptions {
    version: WalletVersion;
    keyPair: KeyPair;
    workchain?: number;
    /** V4 subwallet id (default 698983191, the standard one). */
    walletId?: number;
    /** V5R1 network global id in the wallet id: -239 mainnet (default), -3 testnet. */
    networkGlobalId?: number;
    /** V5R1 subwallet number (default 0). */
    subwalletNumber?: number;
    /** Seconds a signed message stays valid (valid_until = now + this). Default 60. */
    messageTtlSeconds?: number;
    /** How long to wait for inclusion (ms). Default 90 000. */
    waitTimeoutMs?: number;
    /** Poll interval while waiting (ms). Default 1 000 (the devnet is fine with 100). */
    pollIntervalMs?: number;
    /** Submission attempts on transient network errors (default 3). */
    sendAttempts?: number;
    /**
     * Coalesce transfers that queue behind an unconfirmed one into a single wallet transaction (default false).
     * Only transfers with the same send mode share a transaction; a transfer never waits for company.
     */
    batch?: boolean;
}

/**
 * Most messages one wallet transaction carries: V4 sends at most 4; V5R1's action list takes up to 255, capped
 * here so the signed external message stays far below the network's size limits.
 */
export const MAX_BATCH_MESSAGES: Record<WalletVersion, number> = { v4: 4, v5r1: 64 };

export interface TransferMessage {
    to: Address | string;
    value: bigint | string;
    body?: Cell | string | null;
    bounce?: boolean;
    init?: StateInit | null;
}

export interface TransferOptions {
    /** Default PAY_GAS_SEPARATELY | IGNORE_ERRORS, what wallets apps use. */
    sendMode?: SendMode;
    /** Wait for inclusion before resolving (default true). Either way the wallet stays locked until it is seen. */
    wait?: boolean;
}

export interface SubmittedTransfer {
    seqno: number;
    /** Hash of the external message cell as sent. */
    hash: Buffer;
    /** TEP-467 normalized hash (how the transaction is found). */
    normalizedHash: Buffer;
    /** Unix time after which the message can no longer be included. */
    validUntil: number;
    /** Resolves with the wallet's transaction for this message; rejects with the errors above. */
    included: Promise<ChainTransaction>;
}

export interface SentTransfer extends Omit<SubmittedTransfer, 'included'> {
    transaction: ChainTransaction;
}

const walletLocks = new Map<string, Promise<unknown>>();

interface QueuedTransfer {
    messages: MessageRelaxed[];
    sendMode: SendMode;
    resolve(s: SubmittedTransfer): void;
    reject(e: unknown): void;
}

/** Transfers waiting for the next batched transaction of each wallet (by raw address), oldest first. */
const batchQueues = new Map<string, QueuedTransfer[]>();

function sleep(ms: number): Promise<void> {
    return new Promise((r) => setTimeout(r, ms));
}

export class WalletSender implements Sender {
    readonly wallet: WalletContractV4 | WalletContractV5R1;
    readonly address: Address;
    /** The last transfer made through `send` (the Sender interface returns nothing). */
    lastTransfer?: SentTransfer;
    private readonly ttl: number;
    private readonly waitTimeoutMs: number;
    private readonly pollMs: number;
    private readonly sendAttempts: number;
    private readonly signingKey: crypto.KeyObject;

    constructor(
        readonly client: ChainClient,
        private readonly opts: WalletSenderOptions,
    ) {
        const workchain = opts.workchain ?? 0;
        if (opts.version === 'v4') {
            this.wallet = WalletContractV4.create({ workchain, publicKey: opts.keyPair.publicKey, walletId: opts.walletId });
        } else if (opts.version === 'v5r1') {
            this.wallet = WalletContractV5R1.create({
                publicKey: opts.keyPair.publicKey,
                walletId: {
                    networkGlobalId: opts.networkGlobalId ?? -239,
                    context: { workchain, subwalletNumber: opts.subwalletNumber ?? 0, walletVersion: 'v5r1' },
                },
            });
        } else {
            throw new Error(`unsupported wallet version ${String(opts.version)}: use "v4" or "v5r1"`);
        }
        this.address = this.wallet.address;
        this.ttl = opts.messageTtlSeconds ?? 60;
        this.waitTimeoutMs = opts.waitTimeoutMs ?? 90_000;
        this.pollMs = opts.pollIntervalMs ?? 1_000;
        this.sendAttempts = opts.sendAttempts ?? 3;
        this.signingKey = ed25519PrivateKeyObject(opts.keyPair);
    }

    static async fromMnemonic(client: ChainClient, mnemonic: string | string[], opts: Omit<WalletSenderOptions, 'keyPair'>): Promise<WalletSender> {
        const words = Array.isArray(mnemonic) ? mnemonic : mnemonic.trim().split(/\s+/);
        return new WalletSender(client, { ...opts, keyPair: await mnemonicToPrivateKey(words) });
    }

    get publicKey(): Buffer {
        return this.opts.keyPair.publicKey;
    }

    get init(): StateInit {
        return this.wallet.init;
    }

    async getBalance(): Promise<bigint> {
        return this.client.getBalance(this.address);
    }

    /** The wallet's seqno (0 while it is not deployed). */
    async getSeqno(): Promise<number> {
        return this.seqnoOf(await this.client.getAccount(this.address));
    }

    /** The seqno in an account state read just before: from the wallet's data, with no get method to run. */
    private async seqnoOf(acc: AccountState): Promise<number> {
        if (acc.status !== 'active') return 0;
        if (acc.data) return seqnoFromWalletData(this.opts.version, acc.data);
        return (await this.client.runGetMethod(this.address, 'seqno')).reader.readNumber();
    }

    /** Sender interface: one internal message, waits for inclusion. */
    async send(args: SenderArguments): Promise<void> {
        this.lastTransfer = await this.transfer(
            [{ to: args.to, value: args.value, body: args.body ?? null, bounce: args.bounce ?? true, init: args.init ?? null }],
            { sendMode: args.sendMode ?? undefined },
        );
    }

    /** Sends the messages in one wallet transaction and waits until it is on chain. */
    async transfer(messages: (TransferMessage | MessageRelaxed)[], opts: TransferOptions = {}): Promise<SentTransfer> {
        const sub = await this.submit(messages, opts);
        const transaction = await sub.included;
        const { included: _, ...rest } = sub;
        return { ...rest, transaction };
    }

    /**
     * Signs and submits; resolves once the network accepted the message. The wallet stays locked until `included`
     * settles, so the next transfer from it uses the next seqno.
     */
    submit(messages: (TransferMessage | MessageRelaxed)[], opts: TransferOptions = {}): Promise<SubmittedTransfer> {
        const relaxed = messages.map(toRelaxed);
        const sendMode = opts.sendMode ?? SendMode.PAY_GAS_SEPARATELY | SendMode.IGNORE_ERRORS;
        if (relaxed.length > this.maxMessages) {
            return Promise.reject(new RangeError(`a ${this.opts.version} wallet sends at most ${this.maxMessages} messages per transaction, got ${relaxed.length}`));
        }
        if (!this.opts.batch) return this.withWalletLock(() => this.submitUnlocked(relaxed, sendMode));
        return new Promise<SubmittedTransfer>((resolve, reject) => {
            const key = this.address.toRawString();
            const queue = batchQueues.get(key);
            if (queue) {
                queue.push({ messages: relaxed, sendMode, resolve, reject });
                return;
            }
            batchQueues.set(key, [{ messages: relaxed, sendMode, resolve, reject }]);
            this.scheduleBatch(key);
        });
    }

    /** Most messages in one transaction of this wallet. */
    get maxMessages(): number {
        return MAX_BATCH_MESSAGES[this.opts.version];
    }

    /**
     * Once the wallet is free, sends the oldest queued transfers that fit one transaction (same send mode, at most
     * maxMessages messages) and, while any are left, queues the next batch behind this one's inclusion.
     */
    private scheduleBatch(key: string): void {
        const batch: QueuedTransfer[] = [];
        const sent = this.withWalletLock(() => {
            const queue = batchQueues.get(key) ?? [];
            let count = 0;
            while (queue.length > 0 && queue[0].sendMode === (batch[0] ?? queue[0]).sendMode && count + queue[0].messages.length <= this.maxMessages) {
                count += queue[0].messages.length;
                batch.push(queue.shift()!);
            }
            if (queue.length > 0) this.scheduleBatch(key);
            else batchQueues.delete(key);
            return this.submitUnlocked(batch.flatMap((t) => t.messages), batch[0].sendMode);
        });
        sent.then(
            (s) => batch.forEach((t) => t.resolve(s)),
            (e) => batch.forEach((t) => t.reject(e)),
        );
    }

    /** Runs `submitOne` when the wallet's previous transfer has settled, and holds the wallet until this one has. */
    private withWalletLock(submitOne: () => Promise<SubmittedTransfer>): Promise<SubmittedTransfer> {
        const key = this.address.toRawString();
        const previous = walletLocks.get(key) ?? Promise.resolve();
        let release!: () => void;
        const held = new Promise<void>((r) => (release = r));
        const chained = previous.then(() => held);
        walletLocks.set(key, chained);
        chained.then(() => {
            if (walletLocks.get(key) === chained) walletLocks.delete(key);
        });

        return previous.then(async () => {
            let submitted: SubmittedTransfer;
            try {
                submitted = await submitOne();
            } catch (e) {
                release();
                throw e;
            }
            submitted.included.then(release, release);
            submitted.included.catch(() => undefined); // the caller may not await it; errors stay on the promise
            return submitted;
        });
    }

    private async submitUnlocked(messages: MessageRelaxed[], sendMode: SendMode): Promise<SubmittedTransfer> {
        const acc = await this.client.getAccount(this.address);
        if (acc.status === 'frozen') throw new SendRejectedError(this.address.toString(), -1, 'the wallet account is frozen');
        const deployed = acc.status === 'active';
        const seqno = await this.seqnoOf(acc);
        const sinceLt = acc.lastTransaction?.lt ?? 0n;
        const validUntil = Math.floor(Date.now() / 1000) + this.ttl;
        const body = await this.createTransfer(seqno, messages, sendMode, validUntil);
        const ext = external({ to: this.address, init: deployed ? null : this.wallet.init, body });
        const cell = beginCell().store(storeMessage(ext)).endCell();
        const normalizedHash = normalizedMessageHash(ext);
        const walletText = this.address.toString();

        for (let attempt = 0; ; attempt++) {
            try {
                await this.client.sendBoc(cell);
                break;
            } catch (e) {
                // Never resend blindly: the message may have landed although the answer was lost.
                const landed = await this.client.findExternalTransaction(this.address, normalizedHash, { toLt: sinceLt }).catch(() => null);
                if (landed) {
                    return { seqno, hash: cell.hash(), normalizedHash, validUntil, included: Promise.resolve(landed) };
                }
                if (e instanceof ChainApiError && (e.isMessageRejection || !e.retryable)) {
                    throw new SendRejectedError(walletText, seqno, e.apiError);
                }
                const transient = e instanceof ChainNetworkError || (e instanceof ChainApiError && e.retryable);
                if (!transient || attempt + 1 >= this.sendAttempts || Date.now() / 1000 >= validUntil - 1) throw e;
                await sleep(backoffDelay({ attempts: this.sendAttempts, baseDelayMs: 300, maxDelayMs: 3_000 }, attempt));
            }
        }
        const included = this.waitIncluded(seqno, normalizedHash, sinceLt, validUntil);
        return { seqno, hash: cell.hash(), normalizedHash, validUntil, included };
    }

    /** Signs with Node's native Ed25519 (protocol/ed25519.ts): the same signature over the same cell hash as tweetnacl. */
    private createTransfer(seqno: number, messages: MessageRelaxed[], sendMode: SendMode, validUntil: number): Promise<Cell> {
        const key = this.signingKey;
        const signer = async (message: Cell) => crypto.sign(null, message.hash(), key);
        if (this.wallet instanceof WalletContractV4) {
            return this.wallet.createTransfer({ seqno, signer, messages, sendMode, timeout: validUntil });
        }
        return this.wallet.createTransfer({ seqno, signer, messages, sendMode, timeout: validUntil });
    }

    private async waitIncluded(seqno: number, normalizedHash: Buffer, sinceLt: bigint, validUntil: number): Promise<ChainTransaction> {
        const started = Date.now();
        const walletText = this.address.toString();
        const hashHex = normalizedHash.toString('hex');
        let advancedWithoutUs = 0;
        let seenLt = sinceLt;
        for (;;) {
            let current = seqno;
            let lagging = false;
            try {
                // The account's last transaction is the cheap signal (no get method): only when it moved is it
                // worth reading the seqno and looking for our message.
                const acc = await this.client.getAccount(this.address);
                const lastLt = acc.lastTransaction?.lt ?? 0n;
                if (lastLt > seenLt) current = await this.seqnoOf(acc);
                if (current > seqno) {
                    const tx = await this.client.findExternalTransaction(this.address, normalizedHash, { toLt: sinceLt });
                    if (tx) return tx;
                    // The state may be ahead of the transaction index of a lagging API node: look a few more times.
                    if (++advancedWithoutUs >= 3) throw new SeqnoConflictError(walletText, seqno, hashHex);
                    lagging = true;
                } else {
                    seenLt = lastLt;
                }
            } catch (e) {
                if (e instanceof SeqnoConflictError) throw e;
                // A failed read while waiting is not fatal; the deadline bounds the loop.
            }
            const now = Date.now();
            const expired = now / 1000 > validUntil + 2;
            if (expired || now - started >= this.waitTimeoutMs) {
                const tx = await this.client.findExternalTransaction(this.address, normalizedHash, { toLt: sinceLt }).catch(() => null);
                if (tx) return tx;
                throw new InclusionTimeoutError(walletText, seqno, hashHex, expired, now - started);
            }
            // the next read once the wallet has a new transaction (pushed by the devnet; a sleep elsewhere)
            if (lagging) await sleep(this.pollMs);
            else await this.client.waitForTransactions([this.address], seenLt, this.pollMs);
        }
    }
}

/**
 * A wallet's seqno from its persistent data, as its `seqno` get method computes it: V4 stores it in the first 32
 * bits, V5R1 after the one-bit "signature allowed" flag. Reading it here saves the node a TVM run per send and per
 * inclusion check.
 */
export function seqnoFromWalletData(version: WalletVersion, data: Cell): number {
    const s = data.beginParse();
    if (version === 'v5r1') s.skip(1);
    return s.loadUint(32);
}

/**
 * The internal message `walletTx` sent to `to` with `body` (compared by hash): a caller's own message, also when a
 * batched transaction carries several to the same contract. Undefined when the wallet did not send it (e.g. its
 * balance could not pay for it: wallets skip such a message and send the rest). Two identical messages (same
 * destination and body) in one transaction cannot be told apart; the SDK and the worker never send two alike (their
 * bodies carry a job id or a commitment, and a job is claimed and committed once per attempt).
 */
export function sentMessage(walletTx: ChainTransaction, to: Address, body: Cell): Message | undefined {
    const hash = body.hash();
    for (const m of walletTx.tx.outMessages.values()) {
        if (m.info.type === 'internal' && m.info.dest.equals(to) && m.body.hash().equals(hash)) return m;
    }
    return undefined;
}

function toRelaxed(m: TransferMessage | MessageRelaxed): MessageRelaxed {
    if ('info' in m) return m;
    return internal({ to: m.to, value: m.value, body: m.body ?? undefined, bounce: m.bounce ?? true, init: m.init ?? undefined });
}
