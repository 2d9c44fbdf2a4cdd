/**
 * A tiny test contract (FunC, compiled in-process with func-js) that emits external-out messages on request, so
 * that tests can put arbitrary event bodies on the devnet — unknown tags, malformed bodies — and many events per
 * transaction (the sandbox's per-transaction cost makes one-event-per-message traffic slow).
 *
 *   op 1 (echo):     body = op:uint32 + up to 4 refs; every ref is emitted as one external-out message body.
 *   op 2 (generate): body = op:uint32 count:uint16 start:uint64; emits `count` ModelAllowed-shaped bodies
 *                    (tag 0x7c0ce006, modelHash = start + i, count:uint16 = i).
 */
import { Address, Cell, beginCell, contractAddress, toNano } from '@ton/core';
import { internal } from '@ton/sandbox';
import type { Devnet, TxEntry } from '../../devnet';

const SOURCE = `
builder begin_cell() asm "NEWC";
cell end_cell(builder b) asm "ENDC";
int slice_bits(slice s) asm "SBITS";
int slice_refs(slice s) asm "SREFS";
builder store_ref(builder b, cell c) asm(c b) "STREF";
(slice, cell) load_ref(slice s) asm( -> 1 0) "LDREF";
() send_raw_message(cell msg, int mode) impure asm "SENDRAWMSG";

() emit_ext(cell body) impure inline {
    ;; ext_out_msg_info$11 src:addr_none dest:addr_none created_lt:0 created_at:0, no init, body in a ref
    send_raw_message(begin_cell().store_uint(12, 4).store_uint(0, 2).store_uint(0, 96).store_uint(1, 2).store_ref(body).end_cell(), 0);
}

() recv_internal(int balance, int value, cell in_msg_full, slice body) impure {
    if (body.slice_bits() < 32) { return (); }
    int op = body~load_uint(32);
    if (op == 1) {
        while (body.slice_refs() > 0) {
            emit_ext(body~load_ref());
        }
    }
    if (op == 2) {
        int count = body~load_uint(16);
        int start = body~load_uint(64);
        int i = 0;
        repeat (count) {
            emit_ext(begin_cell().store_uint(0x7c0ce006, 32).store_uint(start + i, 256).store_uint(i, 16).end_cell());
            i += 1;
        }
    }
}
`;

/**
 * SOURCE compiled with @ton-community/func-js 0.11 (embedded so tests do not load the compiler, whose WebAssembly
 * glue installs process-wide exception handlers). `npx ts-node --transpile-only tests/orchestrator/emitter.ts`
 * recompiles SOURCE and says whether it still matches.
 */
const EMITTER_CODE_BOC =
    'te6cckEBAgEAfAABFP8A9KQT9LzyyAsBANrTbDEg10nBIJEw4NMfIcABjh6VINdKwgCOFdQBcXAggAzIywPLActfywHMyXD7AOjeAcACjjTTD9M/MHACjilTAaCCEHwM4AbIyx/L/1Igyw/JcXAggAzIywPLActfywHMyXD7AAGkAeRbkTDidIc/YA==';

export function emitterCode(): Cell {
    return Cell.fromBase64(EMITTER_CODE_BOC);
}

async function compileEmitter(): Promise<Cell> {
    const { compileFunc } = await import('@ton-community/func-js');
    const r = await compileFunc({ targets: ['emitter.fc'], sources: { 'emitter.fc': SOURCE } });
    if (r.status === 'error') throw new Error(`emitter.fc: ${r.message}`);
    return Cell.fromBase64(r.codeBoc);
}

export const MODEL_ALLOWED_TAG = 0x7c0ce006;

export interface Emitter {
    address: Address;
    /** Emits each cell as one external-out message body (at most 4). */
    echo(bodies: Cell[]): Promise<TxEntry[]>;
    /** Emits `count` valid ModelAllowed bodies in one transaction. */
    generate(count: number, start: bigint): Promise<TxEntry[]>;
}

export async function deployEmitter(devnet: Devnet, salt: number): Promise<Emitter> {
    const code = emitterCode();
    const init = { code, data: beginCell().storeUint(salt, 32).endCell() };
    const address = contractAddress(0, init);
    const from = new Address(0, Buffer.alloc(32, 0xe1));
    await devnet.sendMessage(internal({ from, to: address, value: toNano('50'), stateInit: init, bounce: false }));
    const send = (body: Cell) => devnet.sendMessage(internal({ from, to: address, value: toNano('0.2'), body, bounce: false }));
    return {
        address,
        echo: (bodies) => {
            if (bodies.length > 4) throw new Error('at most 4 bodies per message');
            const b = beginCell().storeUint(1, 32);
            for (const c of bodies) b.storeRef(c);
            return send(b.endCell());
        },
        generate: (count, start) => send(beginCell().storeUint(2, 32).storeUint(count, 16).storeUint(start, 64).endCell()),
    };
}

/** A valid ModelAllowed body. */
export function modelAllowedBody(modelHash: bigint, count: number): Cell {
    return beginCell().storeUint(MODEL_ALLOWED_TAG, 32).storeUint(modelHash, 256).storeUint(count, 16).endCell();
}

if (require.main === module) {
    void compileEmitter().then((c) => {
        const same = c.hash().equals(emitterCode().hash());
        process.stdout.write(`${c.toBoc().toString('base64')}\n${same ? 'matches the embedded code' : 'DIFFERS from the embedded code: update EMITTER_CODE_BOC'}\n`);
        process.exit(same ? 0 : 1);
    });
}
