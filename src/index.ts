export { Log, liveReadMaps, toOffset } from './storage/log.js';
export type { AppendResult, LogOptions, LogSlice, Offset, RecoveryReport, SegmentInfo } from './storage/log.js';
export { batchInfos, decodeBatches, encodeBatch } from './storage/record-batch.js';
export type { BatchInfo, DecodedRecord, EncodeOptions, RecordInput } from './storage/record-batch.js';
export * from './errors.js';
