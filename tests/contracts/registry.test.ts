import '@ton/test-utils';
import { toNano } from '@ton/core';
import { ExitCode, loadMeasurementAllowed, loadParamsUpdated, Opcodes, tactConstant } from '../../wrappers';
import { createNetwork, events, hash256, MEASUREMENT, MODEL_OCR, Network, NETWORK_ID } from './fixtures';

const EVT = Opcodes;

describe('Registry', () => {
    let net: Network;
    beforeEach(async () => {
        net = await createNetwork();
    });

    it('deploys with its parameters, network id and allowlists readable', async () => {
        expect(net.deployResult.transactions).toHaveTransaction({ to: net.registry.address, deploy: true, success: true });
        expect(await net.registry.getNetworkId()).toBe(BigInt(NETWORK_ID));
        expect((await net.registry.getParams()).protocolFeeBps).toBe(250n);
        expect(await net.registry.getIsMeasurementAllowed(MEASUREMENT)).toBe(true);
        expect(await net.registry.getIsModelAllowed(MODEL_OCR)).toBe(true);
        expect(await net.registry.getIsModelAllowed(hash256('nope'))).toBe(false);
        const counts = await net.registry.getAllowlistCounts();
        expect(counts.measurements).toBe(1n);
        expect(counts.models).toBe(2n);
        expect((await net.registry.getTreasury()).equals(net.treasury.address)).toBe(true);
    });

    it('transfers ownership in two steps, and only the nominee can accept', async () => {
        const next = await net.blockchain.treasury('next-owner');
        const mallory = await net.blockchain.treasury('mallory');
        const byStranger = await net.registry.send(mallory.getSender(), { value: toNano('0.05') }, { $$type: 'TransferOwnership', queryId: 0n, newOwner: mallory.address });
        expect(byStranger.transactions).toHaveTransaction({ to: net.registry.address, exitCode: ExitCode.ErrNotOwner });
        const started = await net.registry.send(net.governance.getSender(), { value: toNano('0.05') }, { $$type: 'TransferOwnership', queryId: 0n, newOwner: next.address });
        expect(events(started).map((e) => e.tag)).toEqual([EVT.OwnershipTransferStarted]);
        const hijack = await net.registry.send(mallory.getSender(), { value: toNano('0.05') }, { $$type: 'AcceptOwnership', queryId: 0n });
        expect(hijack.transactions).toHaveTransaction({ to: net.registry.address, exitCode: ExitCode.ErrNotPendingOwner });
        const accepted = await net.registry.send(next.getSender(), { value: toNano('0.05') }, { $$type: 'AcceptOwnership', queryId: 0n });
        expect(events(accepted).map((e) => e.tag)).toEqual([EVT.OwnershipTransferred]);
        const g = await net.registry.getGovernance();
        expect(g.owner.equals(next.address)).toBe(true);
        expect(g.pendingOwner).toBeNull();
        const oldOwner = await net.gov.allowModel(hash256('m2'));
        expect(oldOwner.transactions).toHaveTransaction({ to: net.registry.address, exitCode: ExitCode.ErrNotOwner });
    });

    it('versions parameter changes, emits them, and refuses values beyond the hard caps', async () => {
        const ok = await net.gov.setParams({ protocolFeeBps: 500n });
        expect(await net.registry.getParamsVersion()).toBe(2n);
        const evt = events(ok).find((e) => e.tag === EVT.ParamsUpdated)!;
        const decoded = loadParamsUpdated(evt.body.beginParse());
        expect(decoded.version).toBe(2n);
        expect(decoded.params.protocolFeeBps).toBe(500n);
        for (const bad of [
            { protocolFeeBps: tactConstant('MaxFeeBps') + 1n },
            { slashBps: 10001n },
            { lockRatioBps: 9999n },
            { maxJobDuration: 0n },
            { unstakeCooldown: tactConstant('MaxCooldown') + 1n },
            { disputeWindow: tactConstant('MaxDisputeWindow') + 1n },
        ]) {
            const r = await net.gov.setParams(bad);
            expect(r.transactions).toHaveTransaction({ to: net.registry.address, exitCode: ExitCode.ErrInvalidParams });
        }
        expect(await net.registry.getParamsVersion()).toBe(2n);
        expect((await net.registry.getParams()).protocolFeeBps).toBe(500n);
    });

    it('adds and revokes measurements and models with events; duplicates and unknowns are rejected', async () => {
        const m = hash256('measurement:v2');
        const added = await net.gov.allowMeasurement(m);
        const evt = loadMeasurementAllowed(events(added)[0].body.beginParse());
        expect(evt.measurement).toBe(m);
        expect(evt.count).toBe(2n);
        const dup = await net.gov.allowMeasurement(m);
        expect(dup.transactions).toHaveTransaction({ to: net.registry.address, exitCode: ExitCode.ErrAlreadyAllowed });
        const revoked = await net.gov.revokeMeasurement(m);
        expect(events(revoked).map((e) => e.tag)).toEqual([EVT.MeasurementRevoked]);
        expect(await net.registry.getIsMeasurementAllowed(m)).toBe(false);
        const again = await net.gov.revokeMeasurement(m);
        expect(again.transactions).toHaveTransaction({ to: net.registry.address, exitCode: ExitCode.ErrNotAllowed });
        const rm = await net.gov.revokeModel(MODEL_OCR);
        expect(events(rm).map((e) => e.tag)).toEqual([EVT.ModelRevoked]);
        const stranger = await net.blockchain.treasury('stranger');
        const r = await net.registry.send(stranger.getSender(), { value: toNano('0.05') }, { $$type: 'AllowModel', queryId: 0n, modelHash: 1n });
        expect(r.transactions).toHaveTransaction({ to: net.registry.address, exitCode: ExitCode.ErrNotOwner });
    });

    it('caps the measurement allowlist at MaxMeasurements', async () => {
        const max = Number(tactConstant('MaxMeasurements'));
        for (let i = 1; i < max; i++) await net.gov.allowMeasurement(hash256('m' + i));
        expect((await net.registry.getAllowlistCounts()).measurements).toBe(BigInt(max));
        const full = await net.gov.allowMeasurement(hash256('one too many'));
        expect(full.transactions).toHaveTransaction({ to: net.registry.address, exitCode: ExitCode.ErrAllowlistFull });
    });

    it('changes the treasury (owner only) and sweeps surplus above its reserve to it', async () => {
        const newTreasury = await net.blockchain.treasury('treasury-2');
        const r = await net.registry.send(net.governance.getSender(), { value: toNano('0.05') }, { $$type: 'SetTreasury', queryId: 0n, treasury: newTreasury.address });
        expect(events(r).map((e) => e.tag)).toEqual([EVT.TreasuryChanged]);
        const sweep = await net.registry.send(net.governance.getSender(), { value: toNano('0.05') }, { $$type: 'SweepSurplus', queryId: 0n });
        expect(sweep.transactions).toHaveTransaction({ from: net.registry.address, to: newTreasury.address, success: true });
        const left = (await net.blockchain.getContract(net.registry.address)).balance;
        expect(left).toBe(tactConstant('RegistryStorageReserve'));
    });
});
