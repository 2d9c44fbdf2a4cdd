/**
 * The toncenter v2 methods the devnet serves, by name. Each takes the request's params object and returns the
 * `result` value, or throws RpcError. Results have toncenter's shapes (checked against @ton/ton's HttpApi codecs).
 */
import { Address, Cell, beginCell, external, loadTransaction, storeMessage } from '@ton/core';
import { DevnetChain, CONFIG_ADDRESS } from './chain';
import { RpcError, invalidParam, liteServerError } from './errors';
import {
    BocError,
    Params,
    addressParam,
    boolParam,
    decodeBoc,
    describe,
    has,
    intParam,
    parseAddressValue,
    parseHash,
    required,
    stringParam,
} from './params';
import {
    accountStateName,
    parseStackParam,
    parseTxEntry,
    renderAccountInformation,
    renderAddress,
    renderExtraCurrencies,
    renderStack,
    renderTransaction,
    renderTransactionId,
} from './render';
import { TxCursorNotFound, TxEntry } from './txindex';
import { detectWallet } from './wallets';

export type Handler = (chain: DevnetChain, params: Params) => unknown | Promise<unknown>;

/** Largest page getTransactions returns (toncenter's REST endpoint allows 100; @ton/ton asks limit+1 with a cursor). */
export const MAX_TX_LIMIT = 1000;

/** Most accounts one devnetWaitTransaction call may watch. */
export const MAX_WAIT_ADDRESSES = 10_000;

function accountOf(chain: DevnetChain, address: Address) {
    const sa = chain.account(address);
    if (address.equals(CONFIG_ADDRESS) && sa?.account?.storage.state.type !== 'active') return chain.configAccount();
    return sa;
}

function bocParam(params: Params, name: string, optional = false): Cell | undefined {
    if (optional && (!has(params, name) || params[name] === '')) return undefined;
    try {
        return decodeBoc(required(params, name), name);
    } catch (e) {
        if (e instanceof BocError) throw invalidParam(e.message);
        throw e;
    }
}

function sendBocCell(params: Params): Cell {
    try {
        return decodeBoc(required(params, 'boc'), 'boc');
    } catch (e) {
        if (e instanceof BocError) {
            throw liteServerError(`cannot apply external message to current state : failed to parse external message: ${e.message}`);
        }
        throw e;
    }
}

function locateParams(params: Params) {
    return {
        source: parseAddressValue(required(params, 'source'), 'source'),
        destination: parseAddressValue(required(params, 'destination'), 'destination'),
        createdLt: intParam(params, 'created_lt', { min: 0n }) ?? (required(params, 'created_lt') as never),
    };
}

/** The transaction of `destination` caused by the message `source` created at `createdLt`. */
function locateResultTx(chain: DevnetChain, source: Address, destination: Address, createdLt: bigint) {
    const list = chain.index.all(destination.toRawString());
    for (let i = chain.index.upperBound(list, createdLt); i < list.length; i++) {
        const info = parseTxEntry(list[i]).tx.inMessage?.info;
        if (info?.type === 'internal' && info.src.equals(source) && info.createdLt === createdLt) return renderTransaction(list[i]);
    }
    throw new RpcError(404, 'Tx not found');
}

/** The transaction of `source` that sent a message to `destination` at `createdLt` (created_lt = tx lt + 1 + index). */
function locateSourceTx(chain: DevnetChain, source: Address, destination: Address, createdLt: bigint) {
    const list = chain.index.all(source.toRawString());
    const i = chain.index.upperBound(list, createdLt - 1n) - 1;
    if (i >= 0) {
        for (const m of parseTxEntry(list[i]).tx.outMessages.values()) {
            if (m.info.type === 'internal' && m.info.dest.equals(destination) && m.info.createdLt === createdLt) {
                return renderTransaction(list[i]);
            }
        }
    }
    throw new RpcError(404, 'Tx not found');
}

function detect(address: string) {
    const a = parseAddressValue(address);
    const text = address.trim();
    let givenType = 'raw_form';
    let testOnly = false;
    if (Address.isFriendly(text)) {
        const f = Address.parseFriendly(text);
        givenType = f.isBounceable ? 'friendly_bounceable' : 'friendly_non_bounceable';
        testOnly = f.isTestOnly;
    }
    const variant = (bounceable: boolean) => ({
        '@type': 'ext.utils.detectedAddressVariant',
        b64: a.toString({ urlSafe: false, bounceable, testOnly }),
        b64url: a.toString({ urlSafe: true, bounceable, testOnly }),
    });
    return {
        '@type': 'ext.utils.detectedAddress',
        raw_form: a.toRawString(),
        bounceable: variant(true),
        non_bounceable: variant(false),
        given_type: givenType,
        test_only: testOnly,
    };
}

export const methods: Record<string, Handler> = {
    getAddressInformation(chain, p) {
        return renderAccountInformation(accountOf(chain, addressParam(p)), chain.blockId(), chain.tick());
    },

    getAddressBalance(chain, p) {
        return (accountOf(chain, addressParam(p))?.account?.storage.balance.coins ?? 0n).toString();
    },

    getAddressState(chain, p) {
        return accountStateName(accountOf(chain, addressParam(p)));
    },

    getWalletInformation(chain, p) {
        const sa = accountOf(chain, addressParam(p));
        const acc = sa?.account;
        const st = acc?.storage.state;
        const w = st?.type === 'active' ? detectWallet(st.state.code, st.state.data) : undefined;
        return {
            wallet: w !== undefined,
            balance: (acc?.storage.balance.coins ?? 0n).toString(),
            extra_currencies: renderExtraCurrencies(acc?.storage.balance.other),
            account_state: accountStateName(sa),
            ...(w ?? {}),
            last_transaction_id: renderTransactionId(sa),
        };
    },

    getTransactions(chain, p) {
        const address = addressParam(p);
        const limit = Number(intParam(p, 'limit', { min: 1n, max: BigInt(MAX_TX_LIMIT) }) ?? 10n);
        const lt = intParam(p, 'lt', { min: 0n });
        const hashText = stringParam(p, 'hash');
        const hash = hashText !== undefined && hashText !== '' ? parseHash(hashText, 'hash') : undefined;
        const toLt = intParam(p, 'to_lt', { min: 0n }) ?? 0n;
        boolParam(p, 'archival', false); // validated; the devnet keeps full history anyway
        let entries: TxEntry[];
        try {
            // As toncenter: the cursor counts only when both lt and hash are given (lt 0 means "from the newest").
            entries = chain.index.query(address.toRawString(), {
                limit,
                ...(lt !== undefined && lt !== 0n && hash ? { lt, hash } : {}),
                toLt,
            });
        } catch (e) {
            if (e instanceof TxCursorNotFound) throw liteServerError(e.message);
            throw e;
        }
        return entries.map(renderTransaction);
    },

    tryLocateTx(chain, p) {
        const { source, destination, createdLt } = locateParams(p);
        return locateResultTx(chain, source, destination, createdLt);
    },

    tryLocateResultTx(chain, p) {
        const { source, destination, createdLt } = locateParams(p);
        return locateResultTx(chain, source, destination, createdLt);
    },

    tryLocateSourceTx(chain, p) {
        const { source, destination, createdLt } = locateParams(p);
        return locateSourceTx(chain, source, destination, createdLt);
    },

    async runGetMethod(chain, p) {
        const address = addressParam(p);
        const m = required(p, 'method');
        let method: string | number;
        if (typeof m === 'number' && Number.isInteger(m) && m >= -(2 ** 31) && m < 2 ** 31) method = m;
        else if (typeof m === 'string' && m.trim() !== '') method = m.trim();
        else throw invalidParam(`Parameter "method" must be a method name or a 32-bit method id, got ${describe(m)}`);
        const stack = parseStackParam(p.stack);
        const r = await chain.runGetMethod(address, method, stack);
        return {
            '@type': 'smc.runResult',
            gas_used: r.gas_used,
            stack: renderStack(r.stack),
            exit_code: r.exit_code,
            block_id: chain.blockId(),
            last_transaction_id: renderTransactionId(chain.account(address)),
        };
    },

    async sendBoc(chain, p) {
        await chain.accept(sendBocCell(p));
        return { '@type': 'ok' };
    },

    async sendBocReturnHash(chain, p) {
        const r = await chain.accept(sendBocCell(p));
        return { '@type': 'raw.extMessageInfo', hash: r.hash.toString('base64'), hash_norm: r.hashNorm.toString('base64') };
    },

    async estimateFee(chain, p) {
        const address = addressParam(p);
        const body = bocParam(p, 'body')!;
        const code = bocParam(p, 'init_code', true);
        const data = bocParam(p, 'init_data', true);
        const ignoreChksig = boolParam(p, 'ignore_chksig', true);
        const msg = external({ to: address, init: code || data ? { code, data } : undefined, body });
        const cell = beginCell().store(storeMessage(msg)).endCell();
        const res = await chain.emulateExternal(cell, address, ignoreChksig);
        if (!res.result.success) {
            throw liteServerError(
                `cannot estimate fees: External message was not accepted: ${res.result.error}` +
                    (res.result.vmResults ? `\nexitcode=${res.result.vmResults.vmExitCode}` : ''),
            );
        }
        const tx = loadTransaction(Cell.fromBase64(res.result.transaction).beginParse());
        const d = tx.description;
        let storage = 0n;
        let gas = 0n;
        let fwd = 0n;
        let action = 0n;
        if (d.type === 'generic') {
            storage = d.storagePhase?.storageFeesCollected ?? 0n;
            gas = d.computePhase.type === 'vm' ? d.computePhase.gasFees : 0n;
            fwd = d.actionPhase?.totalFwdFees ?? 0n;
            action = d.actionPhase?.totalActionFees ?? 0n;
        }
        const inFwd = tx.totalFees.coins - storage - gas - action;
        return {
            '@type': 'query.fees',
            source_fees: {
                '@type': 'fees',
                in_fwd_fee: Number(inFwd > 0n ? inFwd : 0n),
                storage_fee: Number(storage),
                gas_fee: Number(gas),
                fwd_fee: Number(fwd),
            },
            destination_fees: [],
        };
    },

    getMasterchainInfo(chain) {
        return {
            '@type': 'blocks.masterchainInfo',
            last: chain.blockId(),
            state_root_hash: chain.blockId().root_hash,
            init: chain.blockId(0),
        };
    },

    getConsensusBlock(chain) {
        return { consensus_block: chain.seqno, timestamp: chain.tick() };
    },

    getConfigParam(chain, p) {
        const id = intParam(p, 'config_id', { min: -(2n ** 31n), max: 2n ** 31n - 1n });
        if (id === undefined) required(p, 'config_id');
        const cell = chain.configParam(Number(id));
        if (!cell) throw liteServerError(`config parameter ${id} is not set`);
        return { '@type': 'configInfo', config: { '@type': 'tvm.cell', bytes: cell.toBoc().toString('base64') } };
    },

    detectAddress(_chain, p) {
        return detect(String(required(p, 'address')));
    },

    packAddress(_chain, p) {
        return renderAddress(addressParam(p));
    },

    unpackAddress(_chain, p) {
        return addressParam(p).toRawString();
    },

    /**
     * Devnet-only push for pollers: answers once one of `addresses` (an array of addresses, or one `address`; neither:
     * any account) has a transaction with lt > `after_lt`, or after `timeout_ms` (default 10 000, at most 30 000).
     * Result: `moved` (whether a watched account has such a transaction), `changed` (the named accounts that do, raw,
     * with their newest lt) and `lt` (the newest lt among the watched accounts: the next call's after_lt).
     */
    async devnetWaitTransaction(chain, p) {
        let watched: Address[] = [];
        if (has(p, 'addresses')) {
            const list = p.addresses;
            if (!Array.isArray(list) || list.length > MAX_WAIT_ADDRESSES) {
                throw invalidParam(`Parameter "addresses" must be an array of at most ${MAX_WAIT_ADDRESSES} addresses, got ${describe(list)}`);
            }
            watched = list.map((a, i) => parseAddressValue(a, `addresses[${i}]`));
        } else if (has(p, 'address')) {
            watched = [addressParam(p)];
        }
        const afterLt = intParam(p, 'after_lt', { min: 0n }) ?? 0n;
        const timeoutMs = Number(intParam(p, 'timeout_ms', { min: 0n, max: 30_000n }) ?? 10_000n);
        const r = await chain.waitTransaction(watched.map((a) => a.toRawString()), afterLt, timeoutMs);
        return { '@type': 'devnet.waitTransactionResult', moved: r.moved, changed: r.changed.map(([account, lt]) => ({ account, lt: lt.toString() })), lt: r.lt.toString() };
    },

    /** Devnet-only: mint `amount` nanoTON to `address` (as `--fund` does); resolves after the transaction. */
    async devnetFund(chain, p) {
        const address = addressParam(p);
        const amount = intParam(p, 'amount', { min: 1n });
        if (amount === undefined) required(p, 'amount');
        const txs = await chain.fund(address, amount!);
        const sa = chain.account(address);
        return {
            '@type': 'devnet.funded',
            balance: (sa?.account?.storage.balance.coins ?? 0n).toString(),
            transaction_id: txs[0]
                ? { '@type': 'internal.transactionId', lt: txs[0].lt.toString(), hash: txs[0].hash.toString('base64') }
                : undefined,
        };
    },
};
