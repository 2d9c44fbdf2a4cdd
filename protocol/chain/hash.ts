import { Message, beginCell, storeMessage } from '@ton/core';

/**
 * TEP-467 normalized hash of an inbound external message: the hash of the message with no source, zero import fee,
 * no StateInit and the body in a reference. It identifies the message whatever way it was serialized, and is what
 * wallets, explorers and Blueprint use to find the transaction a message produced.
 */
export function normalizedMessageHash(message: Message): Buffer {
    if (message.info.type !== 'external-in') {
        throw new Error(`normalized hashes are defined for external-in messages, got ${message.info.type}`);
    }
    const normalized: Message = {
        info: { type: 'external-in', src: null, dest: message.info.dest, importFee: 0n },
        init: null,
        body: message.body,
    };
    return beginCell().store(storeMessage(normalized, { forceRef: true })).endCell().hash();
}
