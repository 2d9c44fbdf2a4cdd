/** Errors of the chain-access layer. Every one says what was asked of which endpoint and what came back. */

/** The API answered with an error (`ok: false` or a non-200 status). */
export class ChainApiError extends Error {
    constructor(
        readonly method: string,
        /** HTTP status. */
        readonly status: number,
        /** The API's error text. */
        readonly apiError: string,
        readonly endpoint: string,
    ) {
        super(`${method} failed at ${endpoint}: HTTP ${status}: ${apiError}`);
        this.name = 'ChainApiError';
    }

    /** 429 and 5xx are worth retrying for reads; a lite server's refusal of an external message is not. */
    get retryable(): boolean {
        if (this.isMessageRejection) return false;
        return this.status === 429 || this.status >= 500;
    }

    /** The lite server refused an external message (the contract did not accept it, or it does not parse). */
    get isMessageRejection(): boolean {
        return /cannot apply external message|failed to parse external message/i.test(this.apiError);
    }
}

/** No usable HTTP answer: connection refused or reset, timeout, a body that is not JSON. */
export class ChainNetworkError extends Error {
    constructor(
        readonly method: string,
        readonly endpoint: string,
        readonly causeText: string,
    ) {
        super(`${method} failed at ${endpoint}: ${causeText}`);
        this.name = 'ChainNetworkError';
    }

    readonly retryable = true;
}

/** A get method ended with an exit code other than 0 or 1 (-13: the account has no code). */
export class GetMethodError extends Error {
    constructor(
        readonly address: string,
        readonly methodName: string | number,
        readonly exitCode: number,
    ) {
        super(`get method ${String(methodName)} on ${address} failed with exit code ${exitCode}${exitCode === -13 ? ' (account not deployed)' : ''}`);
        this.name = 'GetMethodError';
    }
}

/** The network refused the wallet's external message (bad seqno, signature, expired, not enough balance to deploy). */
export class SendRejectedError extends Error {
    constructor(
        readonly wallet: string,
        readonly seqno: number,
        readonly reason: string,
    ) {
        super(`wallet ${wallet}: message with seqno ${seqno} was rejected: ${reason}`);
        this.name = 'SendRejectedError';
    }
}

/** The wallet's seqno moved past ours but our message is not among its transactions: another sender used it. */
export class SeqnoConflictError extends Error {
    constructor(
        readonly wallet: string,
        readonly seqno: number,
        readonly messageHash: string,
    ) {
        super(
            `wallet ${wallet}: seqno ${seqno} was consumed by another message; ours (normalized hash ${messageHash}) will never land. ` +
                'Is another process sending from the same wallet?',
        );
        this.name = 'SeqnoConflictError';
    }
}

/** The message was sent but its transaction did not show up in time. */
export class InclusionTimeoutError extends Error {
    constructor(
        readonly wallet: string,
        readonly seqno: number,
        readonly messageHash: string,
        readonly expired: boolean,
        waitedMs: number,
    ) {
        super(
            `wallet ${wallet}: message with seqno ${seqno} (normalized hash ${messageHash}) not included after ${waitedMs} ms; ` +
                (expired ? 'its valid_until has passed, so it can no longer land' : 'it may still land before its valid_until'),
        );
        this.name = 'InclusionTimeoutError';
    }
}
