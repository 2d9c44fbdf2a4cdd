/**
 * onnxruntime-node for the rest of worker/inference: imported through here so that realm.ts runs first (it lets
 * onnxruntime-node's output tensors pass onnxruntime-common's instanceof checks under jest; a no-op otherwise).
 */
import './realm';

export * from 'onnxruntime-node';
