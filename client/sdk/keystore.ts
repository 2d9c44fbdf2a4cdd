/**
 * Result keys on disk. A job's result is encrypted to an X25519 key pair the client makes for that job; whoever
 * holds the private key can read the result, so it is kept in a file readable by the user only (mode 0600, in a
 * 0700 directory), by default ~/.cocoon/keys/<job>.json. The file is first written under the key's public half
 * (before anything is paid), then renamed to the job's address once the job exists, so a crash in between never
 * loses a key for a paid job.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Address } from '@ton/core';
import { X25519KeyPair } from '../../protocol/envelope';
import { CocoonError } from './errors';

export interface ResultKeyRecord {
    version: 1;
    /** hex */
    resultPublicKey: string;
    /** hex: SECRET */
    resultPrivateKey: string;
    /** set once the job exists */
    job?: string;
    jobId?: string;
    registry?: string;
    networkId?: number;
    model?: string;
    createdAt: string;
}

export function defaultKeysDir(): string {
    return path.join(os.homedir(), '.cocoon', 'keys');
}

/** `0:abc…` → `0_abc….json` (file-name safe, one per job). */
export function jobKeyFile(dir: string, job: Address | string): string {
    const raw = typeof job === 'string' ? Address.parse(job).toRawString() : job.toRawString();
    return path.join(dir, `${raw.replace(':', '_')}.json`);
}

function writePrivate(file: string, record: ResultKeyRecord): void {
    fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    const tmp = `${file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify(record, null, 2) + '\n', { mode: 0o600 });
    fs.renameSync(tmp, file);
}

/** Before paying: keep the fresh key pair under its public half. Returns the pending file. */
export function savePendingResultKey(dir: string, keys: X25519KeyPair): string {
    const file = path.join(dir, `pending-${keys.publicKey.toString('hex').slice(0, 32)}.json`);
    writePrivate(file, { version: 1, resultPublicKey: keys.publicKey.toString('hex'), resultPrivateKey: keys.privateKey.toString('hex'), createdAt: new Date().toISOString() });
    return file;
}

/** Once the job exists: the record under the job's address (the pending file, if any, is removed). */
export function saveJobResultKey(dir: string, keys: X25519KeyPair, job: Omit<ResultKeyRecord, 'version' | 'resultPublicKey' | 'resultPrivateKey' | 'createdAt'> & { job: string }, pendingFile?: string): string {
    const file = jobKeyFile(dir, job.job);
    writePrivate(file, {
        version: 1,
        resultPublicKey: keys.publicKey.toString('hex'),
        resultPrivateKey: keys.privateKey.toString('hex'),
        ...job,
        createdAt: new Date().toISOString(),
    });
    if (pendingFile) fs.rmSync(pendingFile, { force: true });
    return file;
}

/** Reads a key file (`--result-key-file`, or the job's file in `dir`). */
export function loadResultKey(file: string): X25519KeyPair & { record: ResultKeyRecord } {
    let record: ResultKeyRecord;
    try {
        record = JSON.parse(fs.readFileSync(file, 'utf8'));
    } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        throw new CocoonError(
            'NO_RESULT_KEY',
            code === 'ENOENT' ? `no result key file at ${file}` : `cannot read the result key file ${file}: ${code ?? (e as Error).message}`,
            'the key is written by `cocoon job run` on the machine that submitted the job; pass it with --result-key-file',
        );
    }
    const hex64 = /^[0-9a-f]{64}$/;
    if (!record || !hex64.test(record.resultPrivateKey ?? '') || !hex64.test(record.resultPublicKey ?? '')) {
        throw new CocoonError('NO_RESULT_KEY', `${file} is not a Cocoon result key file`, 'pass the file `cocoon job run` wrote for this job');
    }
    return { publicKey: Buffer.from(record.resultPublicKey, 'hex'), privateKey: Buffer.from(record.resultPrivateKey, 'hex'), record };
}
