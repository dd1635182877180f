// Kafka's four record compression codecs, built in: gzip through Node's zlib,
// snappy, lz4 and zstd through the addon's fjord-codecs crate, which writes
// them as Kafka's Java producer does (native/codecs). A batch's records
// section is compressed whole; these calls take and give that section.
import { constants as bufferConstants } from 'node:buffer';
import { gunzipSync, gzipSync } from 'node:zlib';
import { native } from '../storage/native.js';
import { CODEC_GZIP, CODEC_LZ4, CODEC_NAMES, CODEC_NONE, CODEC_SNAPPY, CODEC_ZSTD, INT32_MAX } from './layout.js';

/** Kafka's codec names, as `compression.type` and `EncodeOptions.compression` spell them ('none' for no codec). */
export type CompressionName = 'none' | 'gzip' | 'snappy' | 'lz4' | 'zstd';

/** The most bytes a batch's records decompress to: a batch length is an int32, and so is what Fjord encodes. */
export const DECOMPRESSED_LIMIT = Math.min(INT32_MAX, bufferConstants.MAX_LENGTH);

/** The codec number (a batch's attribute bits) of `name`, or -1 for a name that is not a codec. */
export function codecOfName(name: unknown): number {
  return typeof name === 'string' ? CODEC_NAMES.indexOf(name) : -1;
}

/** Whether `codec` is one Fjord compresses and decompresses (all of Kafka's: 0 to 4). */
export function isKnownCodec(codec: number): boolean {
  return codec >= CODEC_NONE && codec <= CODEC_ZSTD;
}

/** `records` (a batch's records section) compressed with `codec` (gzip, snappy, lz4 or zstd). */
export function compressRecords(codec: number, records: Buffer): Buffer {
  if (codec === CODEC_GZIP) return gzipSync(records);
  return native.compressRecords(codec, records);
}

/**
 * `compressed` (a batch's records section) decompressed with `codec`; throws
 * an Error whose message says why when it does not decompress, or holds more
 * than DECOMPRESSED_LIMIT bytes. Callers report it with the batch's position.
 */
export function decompressRecords(codec: number, compressed: Buffer): Buffer {
  if (codec === CODEC_GZIP) return gunzipSync(compressed, { maxOutputLength: DECOMPRESSED_LIMIT });
  if (codec === CODEC_SNAPPY || codec === CODEC_LZ4 || codec === CODEC_ZSTD) return native.decompressRecords(codec, compressed, DECOMPRESSED_LIMIT);
  throw new Error(`codec ${codec} is not one of Kafka's`);
}
