import { toNano } from '@ton/core';
import { checkClaimKey, verifyProvider } from '../../client/sdk/verifyProvider';
import { attestationHash, devVendorKeyPair, generateVendorKeyPair, SimulatedTee } from '../../protocol/attestation';
import { bufferToUint256, uint256ToBuffer } from '../../protocol/receipt';
import { Enclave } from '../../worker/enclave/enclave';
import { createNetwork, hash256, MEASUREMENT, MODEL_OCR, MODEL_VAD, Network } from '../contracts/fixtures';

const vendor = devVendorKeyPair('verify-provider-test'); // simulated TEE only

/** A provider whose on-chain record is the real enclave's keys and quote hash. */
async function attestedProvider(net: Network, name: string, o: { measurement?: bigint; tamperRecord?: 'keys' | 'hash' } = {}) {
    const measurement = uint256ToBuffer(o.measurement ?? MEASUREMENT);
    const enclave = new Enclave({ attestation: new SimulatedTee({ vendorPrivateKey: vendor.privateKey, measurement }), measurement });
    const { quote } = await enclave.attest();
    const p = await net.createProvider(name, { stake: toNano('50'), register: false });
    await p.register(undefined, {
        receiptKey: bufferToUint256(enclave.ed25519PublicKey),
        encryptionKey: o.tamperRecord === 'keys' ? hash256('other x25519 key') : bufferToUint256(enclave.x25519PublicKey),
        measurement: bufferToUint256(measurement),
        attestationHash: o.tamperRecord === 'hash' ? hash256('another quote') : bufferToUint256(attestationHash(quote)),
    });
    return { p, enclave, quote };
}

describe('client SDK: verifyProvider (the trust chain before encrypting)', () => {
    let net: Network;
    beforeEach(async () => {
        net = await createNetwork();
    });

    const verify = (p: Awaited<ReturnType<typeof attestedProvider>>, o: { quote?: Buffer; modelHash?: bigint; vendorPublicKey?: string } = {}) =>
        verifyProvider({
            registry: net.registry,
            stake: p.p.contract,
            owner: p.p.owner.address,
            quote: o.quote ?? p.quote,
            modelHash: o.modelHash ?? MODEL_OCR,
            quoteOptions: { vendorPublicKey: o.vendorPublicKey ?? vendor.publicKeyHex },
        });

    it('accepts a provider whose quote, chain record, allowlists and model all agree', async () => {
        const a = await attestedProvider(net, 'alice');
        const v = await verify(a);
        expect(v.error).toBeUndefined();
        expect(v.ok).toBe(true);
        expect(v.checks.map((c) => c.name)).toEqual([
            'enclave registered',
            'quote verifies',
            'attestation hash matches the chain',
            'measurement allowed',
            'measurement matches the enclave record',
            'report data binds the enclave keys',
            'model allowed',
            'model served',
        ]);
        expect(v.teeType).toBe('simulated');
        expect(v.warning).toMatch(/no hardware protection/);
        expect(v.price).toBe(toNano('1'));
        expect(v.enclave!.encryptionKey).toBe(bufferToUint256(a.enclave.x25519PublicKey));
    });

    it('rejects a quote signed by another vendor key', async () => {
        const a = await attestedProvider(net, 'alice');
        const v = await verify(a, { vendorPublicKey: generateVendorKeyPair().publicKeyHex });
        expect(v.ok).toBe(false);
        expect(v.error).toMatch(/^quote verifies failed/);
    });

    it('rejects a valid quote that is not the one registered on chain', async () => {
        const a = await attestedProvider(net, 'alice', { tamperRecord: 'hash' });
        const v = await verify(a);
        expect(v.error).toMatch(/^attestation hash matches the chain failed/);
    });

    it('rejects a quote from another enclave (its report data binds other keys)', async () => {
        const a = await attestedProvider(net, 'alice');
        const b = await attestedProvider(net, 'bob');
        // alice's record, bob's quote: valid signature, but the hash and the keys do not match alice's record
        const v = await verify(a, { quote: b.quote });
        expect(v.ok).toBe(false);
        expect(v.checks.find((c) => c.name === 'report data binds the enclave keys')!.ok).toBe(false);
    });

    it('rejects keys on chain that the quote does not vouch for', async () => {
        const a = await attestedProvider(net, 'alice', { tamperRecord: 'keys' });
        const v = await verify(a);
        expect(v.error).toMatch(/^report data binds the enclave keys failed/);
    });

    it('rejects a provider whose measurement was revoked, and one that does not serve the model', async () => {
        const a = await attestedProvider(net, 'alice');
        const notServed = await verify(a, { modelHash: hash256('model:unlisted') });
        expect(notServed.error).toMatch(/^model allowed failed/);
        const fresh = hash256('model:new');
        await net.gov.allowModel(fresh);
        expect((await verify(a, { modelHash: fresh })).error).toMatch(/^model served failed/);
        await net.gov.revokeModel(MODEL_VAD);
        expect((await verify(a, { modelHash: MODEL_VAD })).error).toMatch(/^model allowed failed/);
        await net.gov.revokeMeasurement(MEASUREMENT);
        const revoked = await verify(a);
        expect(revoked.error).toMatch(/^measurement allowed failed/);
    });

    it('refuses a claim made with another receipt key than the attested one', async () => {
        const a = await attestedProvider(net, 'alice');
        const v = await verify(a);
        expect(() => checkClaimKey(v, bufferToUint256(a.enclave.ed25519PublicKey))).not.toThrow();
        expect(() => checkClaimKey(v, hash256('re-registered key'))).toThrow(/receipt key other than the attested one/);
    });
});
