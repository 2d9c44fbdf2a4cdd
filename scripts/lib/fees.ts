import { toNano } from '@ton/core';
import { tactConstant } from '../../wrappers';

/**
 * TON attached to each message. Whatever the contracts do not spend comes back to the sender (cashback, surplus
 * refunds), so these are upper bounds of the cost, not the cost.
 */

/** Governance messages, unstake/withdraw requests, job actions (as in tests/contracts/fixtures.ts). */
export const ACTION_VALUE = toNano('0.05');
/** RegisterEnclave: the provider contract, the registry's CheckEnclave and the answer. */
export const REGISTER_VALUE = toNano('0.1');
/** First message to a new registry: its storage reserve plus deployment gas. */
export const DEPLOY_REGISTRY_VALUE = toNano('0.2');
/** Value a Stake message needs above the amount (contracts/constants.tact), plus a margin returned as surplus. */
export const STAKE_FEE = tactConstant('StakeFee');
export const STAKE_MARGIN = toNano('0.02');
/** Value OpenJob needs above the max price. */
export const OPEN_JOB_FEE = tactConstant('OpenJobFee');

export function queryId(): bigint {
    return BigInt(Date.now());
}
