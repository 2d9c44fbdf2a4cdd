/**
 * Network ids bound into every signature (receipts, envelopes) so nothing signed for one network verifies on
 * another. Mainnet and testnet use TON's global ids; the local devnet uses its own.
 */
export const NETWORK_IDS = {
    mainnet: -239,
    testnet: -3,
    devnet: 0x434f43, // "COC"
} as const;

export type NetworkName = keyof typeof NETWORK_IDS;
