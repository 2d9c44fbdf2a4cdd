/**
 * Model names → on-chain model hashes (sha256 of the .onnx file). The network file may name more models; the
 * shipped ones (ocr, vad, tensor) are always known. A 64-hex string is taken as a hash as it is.
 */
import { SHIPPED_MODEL_HASHES } from '../../worker/inference/catalog';
import { CocoonError } from './errors';

export type ModelTask = 'ocr' | 'vad' | 'tensor';

export interface ResolvedModel {
    /** lowercase 64 hex */
    hash: string;
    /** uint256, as contracts store it */
    value: bigint;
    /** the name it was given by, or the shipped name of this hash */
    name?: string;
    /** the result format, when the model is one of the shipped tasks */
    task?: ModelTask;
}

const HEX64 = /^(0x)?[0-9a-fA-F]{64}$/;

export function resolveModel(model: string, networkModels: Record<string, string> = {}): ResolvedModel {
    if (typeof model !== 'string' || model.length === 0) {
        throw new CocoonError('UNKNOWN_MODEL', 'no model given', 'pass a model name (ocr, vad, tensor) or a 64-hex model hash');
    }
    const known: Record<string, string> = { ...SHIPPED_MODEL_HASHES, ...networkModels };
    let hash: string | undefined;
    let name: string | undefined;
    if (HEX64.test(model)) {
        hash = model.replace(/^0x/, '').toLowerCase();
    } else if (Object.prototype.hasOwnProperty.call(known, model)) {
        hash = known[model].toLowerCase();
        name = model;
    }
    if (!hash) {
        throw new CocoonError(
            'UNKNOWN_MODEL',
            `unknown model ${JSON.stringify(model.slice(0, 80))}`,
            `use one of ${Object.keys(known).join(', ')}, or a 64-hex model hash`,
        );
    }
    const shipped = (Object.entries(SHIPPED_MODEL_HASHES) as [ModelTask, string][]).find(([, h]) => h === hash);
    return { hash, value: BigInt('0x' + hash), name: name ?? shipped?.[0], task: shipped?.[0] };
}
