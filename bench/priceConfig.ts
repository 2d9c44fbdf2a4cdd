/**
 * A blockchain config whose gas and forwarding prices are the sandbox's divided by a factor: the fees a job would
 * pay on a network that prices them lower, for the same gas and message sizes.
 *
 * Only the price fields change (ConfigParam 20/21: gas_flat_pfx#d1 flat_gas_limit flat_gas_price, then
 * gas_prices_ext#de gas_price ...; ConfigParam 24/25: msg_forward_prices#ea lump_price bit_price cell_price ...);
 * limits, credits and fractions stay as they are, so every contract runs exactly as under the default config.
 */
import { beginCell, Cell, Dictionary } from '@ton/core';

const div = (v: bigint, by: bigint) => (v + by / 2n) / by;

function gasPrices(param: Cell, by: bigint): Cell {
    const s = param.beginParse();
    const b = beginCell();
    if (s.loadUint(8) !== 0xd1) throw new Error('gas prices: expected gas_flat_pfx#d1');
    b.storeUint(0xd1, 8).storeUint(s.loadUintBig(64), 64).storeUint(div(s.loadUintBig(64), by), 64); // flat limit, flat price
    if (s.loadUint(8) !== 0xde) throw new Error('gas prices: expected gas_prices_ext#de');
    b.storeUint(0xde, 8).storeUint(div(s.loadUintBig(64), by), 64); // gas_price (in 1/65536 nanoTON)
    b.storeSlice(s); // gas_limit, special_gas_limit, gas_credit, block_gas_limit, freeze_due_limit, delete_due_limit
    return b.endCell();
}

function forwardPrices(param: Cell, by: bigint): Cell {
    const s = param.beginParse();
    if (s.loadUint(8) !== 0xea) throw new Error('forward prices: expected msg_forward_prices#ea');
    const b = beginCell().storeUint(0xea, 8);
    for (let i = 0; i < 3; i++) b.storeUint(div(s.loadUintBig(64), by), 64); // lump_price, bit_price, cell_price
    b.storeSlice(s); // ihr_price_factor, first_frac, next_frac
    return b.endCell();
}

/** `config` (a ConfigParams dictionary cell, e.g. `blockchain.config`) with gas and forwarding prices divided by `by`. */
export function dividedPricesConfig(config: Cell, by: bigint): Cell {
    const params = Dictionary.loadDirect(Dictionary.Keys.Int(32), Dictionary.Values.Cell(), config);
    for (const id of [20, 21]) params.set(id, gasPrices(params.get(id)!, by));
    for (const id of [24, 25]) params.set(id, forwardPrices(params.get(id)!, by));
    return beginCell().storeDictDirect(params).endCell();
}
