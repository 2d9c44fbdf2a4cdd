/**
 * The worker's confidential job path: ConfidentialJobRunner (enclave + inference engine), its typed errors, and
 * posting the enclave's receipt to the job escrow.
 */
export * from './errors';
export * from './values';
export * from './runner';
export * from './receiptPoster';
