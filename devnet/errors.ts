/**
 * Errors the devnet's HTTP API returns. They mirror toncenter's v2 API (toncenter/ton-http-api):
 *  - 416 "Incorrect address" for addresses that do not parse;
 *  - 422 for an unknown method, missing or invalid parameters (FastAPI validation / TypeError in toncenter);
 *  - 500 "LITE_SERVER_UNKNOWN: ..." for what the lite server would refuse (an external message the contract does not
 *    accept, a BoC that is not a message, an unknown transaction cursor);
 *  - 404 / 405 for unknown paths or verbs; 401 when an API key is configured and missing or wrong.
 * The body is always `{ ok: false, error, code }` (plus `id` and `jsonrpc` on the JSON-RPC endpoint).
 */
export class RpcError extends Error {
    constructor(
        readonly status: number,
        message: string,
    ) {
        super(message);
        this.name = 'RpcError';
    }
}

export function invalidParam(message: string): RpcError {
    return new RpcError(422, message);
}

export function liteServerError(message: string): RpcError {
    return new RpcError(500, `LITE_SERVER_UNKNOWN: ${message}`);
}
