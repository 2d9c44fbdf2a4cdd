/**
 * The Cocoon contracts' events: external-out messages whose body starts with a 32-bit tag (the event message's
 * opcode in contracts/messages.tact), decoded with the Tact-generated loaders into typed values.
 *
 * Each event belongs to one contract family: the registry emits 0x7c0ce0xx, a provider stake 0x7c0ce1xx, a job
 * escrow 0x7c0ce2xx. The watcher knows which family every followed address is, so an event with another family's
 * tag (which a genuine contract never emits) is rejected rather than trusted.
 */
import { Address, Cell, Slice } from '@ton/core';
import {
    EarningsWithdrawn,
    EnclaveRegistered,
    EnclaveRejected,
    EnclaveRevoked,
    JobCancelled,
    JobClaimed,
    JobCommitted,
    JobExpired,
    JobClaimedAndCommitted,
    JobOpenedEvent,
    JobSettled,
    LockReleased,
    MeasurementAllowed,
    MeasurementRevoked,
    ModelAllowed,
    ModelRevoked,
    OwnershipTransferStarted,
    OwnershipTransferred,
    ParamsUpdated,
    ProviderPruned,
    ProviderSlashRequested,
    StakeSlashed,
    StakeWithdrawn,
    Staked,
    TreasuryChanged,
    UnstakeRequested,
    loadEarningsWithdrawn,
    loadEnclaveRegistered,
    loadEnclaveRejected,
    loadEnclaveRevoked,
    loadJobCancelled,
    loadJobClaimed,
    loadJobCommitted,
    loadJobExpired,
    loadJobClaimedAndCommitted,
    loadJobOpenedEvent,
    loadJobSettled,
    loadLockReleased,
    loadMeasurementAllowed,
    loadMeasurementRevoked,
    loadModelAllowed,
    loadModelRevoked,
    loadOwnershipTransferStarted,
    loadOwnershipTransferred,
    loadParamsUpdated,
    loadProviderPruned,
    loadProviderSlashRequested,
    loadStakeSlashed,
    loadStakeWithdrawn,
    loadStaked,
    loadTreasuryChanged,
    loadUnstakeRequested,
} from '../../wrappers';

/** Which kind of contract an address is; decides which event tags it may emit. `other`: any (tests, tools). */
export type ContractKind = 'registry' | 'provider' | 'job' | 'other';

/** Event name → decoded payload type. */
export interface EventPayloads {
    OwnershipTransferStarted: OwnershipTransferStarted;
    OwnershipTransferred: OwnershipTransferred;
    ParamsUpdated: ParamsUpdated;
    MeasurementAllowed: MeasurementAllowed;
    MeasurementRevoked: MeasurementRevoked;
    ModelAllowed: ModelAllowed;
    ModelRevoked: ModelRevoked;
    TreasuryChanged: TreasuryChanged;
    JobOpened: JobOpenedEvent;
    ProviderPruned: ProviderPruned;
    ProviderSlashRequested: ProviderSlashRequested;
    Staked: Staked;
    EnclaveRegistered: EnclaveRegistered;
    EnclaveRejected: EnclaveRejected;
    UnstakeRequested: UnstakeRequested;
    StakeWithdrawn: StakeWithdrawn;
    EarningsWithdrawn: EarningsWithdrawn;
    StakeSlashed: StakeSlashed;
    EnclaveRevoked: EnclaveRevoked;
    LockReleased: LockReleased;
    JobClaimed: JobClaimed;
    JobCommitted: JobCommitted;
    JobSettled: JobSettled;
    JobCancelled: JobCancelled;
    JobExpired: JobExpired;
    JobClaimedAndCommitted: JobClaimedAndCommitted;
}

export type EventName = keyof EventPayloads;

interface EventDef<N extends EventName = EventName> {
    tag: number;
    name: N;
    family: Exclude<ContractKind, 'other'>;
    /** `inBody`: the body of the emitting transaction's inbound message, given only to the events that read it */
    load: (s: Slice, inBody: Cell | null) => EventPayloads[N];
    /** JobOpened: its terms are the spec of the OpenJob the transaction processed */
    readsInBody: boolean;
}

function def<N extends EventName>(tag: number, name: N, family: EventDef['family'], load: (s: Slice, inBody: Cell | null) => EventPayloads[N], readsInBody = false): EventDef<N> {
    return { tag, name, family, load, readsInBody };
}

/** Every event of contracts/messages.tact ("events" section), by tag. */
export const EVENT_DEFS: readonly EventDef[] = [
    def(0x7c0ce001, 'OwnershipTransferStarted', 'registry', loadOwnershipTransferStarted),
    def(0x7c0ce002, 'OwnershipTransferred', 'registry', loadOwnershipTransferred),
    def(0x7c0ce003, 'ParamsUpdated', 'registry', loadParamsUpdated),
    def(0x7c0ce004, 'MeasurementAllowed', 'registry', loadMeasurementAllowed),
    def(0x7c0ce005, 'MeasurementRevoked', 'registry', loadMeasurementRevoked),
    def(0x7c0ce006, 'ModelAllowed', 'registry', loadModelAllowed),
    def(0x7c0ce007, 'ModelRevoked', 'registry', loadModelRevoked),
    def(0x7c0ce008, 'TreasuryChanged', 'registry', loadTreasuryChanged),
    def(0x7c0ce009, 'JobOpened', 'registry', loadJobOpenedEvent, true),
    def(0x7c0ce00a, 'ProviderPruned', 'registry', loadProviderPruned),
    def(0x7c0ce00b, 'ProviderSlashRequested', 'registry', loadProviderSlashRequested),
    def(0x7c0ce101, 'Staked', 'provider', loadStaked),
    def(0x7c0ce102, 'EnclaveRegistered', 'provider', loadEnclaveRegistered),
    def(0x7c0ce103, 'EnclaveRejected', 'provider', loadEnclaveRejected),
    def(0x7c0ce104, 'UnstakeRequested', 'provider', loadUnstakeRequested),
    def(0x7c0ce105, 'StakeWithdrawn', 'provider', loadStakeWithdrawn),
    def(0x7c0ce106, 'EarningsWithdrawn', 'provider', loadEarningsWithdrawn),
    def(0x7c0ce107, 'StakeSlashed', 'provider', loadStakeSlashed),
    def(0x7c0ce108, 'EnclaveRevoked', 'provider', loadEnclaveRevoked),
    def(0x7c0ce109, 'LockReleased', 'provider', loadLockReleased),
    def(0x7c0ce201, 'JobClaimed', 'job', loadJobClaimed),
    def(0x7c0ce202, 'JobCommitted', 'job', loadJobCommitted),
    def(0x7c0ce203, 'JobSettled', 'job', loadJobSettled),
    def(0x7c0ce204, 'JobCancelled', 'job', loadJobCancelled),
    def(0x7c0ce205, 'JobExpired', 'job', loadJobExpired),
    def(0x7c0ce206, 'JobClaimedAndCommitted', 'job', loadJobClaimedAndCommitted),
];

const BY_TAG = new Map<number, EventDef>(EVENT_DEFS.map((d) => [d.tag, d]));

/** Events after which a job escrow is finished (the watcher stops following it). */
export const TERMINAL_JOB_EVENTS: ReadonlySet<EventName> = new Set<EventName>(['JobSettled', 'JobCancelled', 'JobExpired']);

interface EventBase {
    /** `<tx hash hex>:<out-message index>`: unique, stable; the key of exactly-once processing. */
    id: string;
    /** The contract that emitted the event. */
    address: Address;
    kind: ContractKind;
    tag: number;
    /** Transaction hash, hex. */
    txHash: string;
    txLt: bigint;
    /** Index of the external-out message in the transaction's out-message list. */
    outIndex: number;
    /** Transaction time (unix seconds). */
    utime: number;
}

/** A decoded event; `name` discriminates `data`. */
export type ChainEvent = { [N in EventName]: EventBase & { name: N; data: EventPayloads[N] } }[EventName];

export type EventOf<N extends EventName> = Extract<ChainEvent, { name: N }>;

export type SkipReason = 'unknown-tag' | 'malformed' | 'unexpected-source';

export type DecodeResult =
    | { ok: true; name: EventName; tag: number; data: EventPayloads[EventName] }
    | { ok: false; reason: SkipReason; tag: number | null };

export function eventDef(tag: number): EventDef | undefined {
    return BY_TAG.get(tag);
}

/**
 * Decodes one event body. Strict: the tag must be known and belong to the emitting contract's family, the loader
 * must succeed and consume the whole body (trailing bits or references mean it is not the message it claims to be).
 * A Slice is consumed. `inBody` is the body of the inbound message of the transaction that emitted the event, or a
 * function returning it, called only for an event that reads it: a JobOpened without it (or with anything but the
 * OpenJob it answers) is malformed.
 */
export function decodeEvent(body: Cell | Slice, kind: ContractKind, inBody: Cell | null | (() => Cell | null) = null): DecodeResult {
    const s = body instanceof Cell ? body.beginParse() : body;
    if (s.remainingBits < 32) return { ok: false, reason: 'malformed', tag: null };
    const tag = s.preloadUint(32);
    const d = BY_TAG.get(tag);
    if (!d) return { ok: false, reason: 'unknown-tag', tag };
    if (kind !== 'other' && d.family !== kind) return { ok: false, reason: 'unexpected-source', tag };
    let data: EventPayloads[EventName];
    try {
        data = d.load(s, !d.readsInBody ? null : typeof inBody === 'function' ? inBody() : inBody);
    } catch {
        return { ok: false, reason: 'malformed', tag };
    }
    if (s.remainingBits !== 0 || s.remainingRefs !== 0) return { ok: false, reason: 'malformed', tag };
    return { ok: true, name: d.name, tag, data };
}

export function tagHex(tag: number | null): string | null {
    return tag === null ? null : '0x' + tag.toString(16).padStart(8, '0');
}
