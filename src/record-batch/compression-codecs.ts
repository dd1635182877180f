// KafkaJS's `CompressionCodecs` registry: a codec factory per CompressionTypes
// number, each returning `{ compress(encoder), decompress(buffer) }`. Fjord
// fills it with its built-in codecs (codecs.ts). Code ported from KafkaJS that
// registers its own, `CompressionCodecs[CompressionTypes.Snappy] = SnappyCodec`,
// replaces the built-in one for that type as in KafkaJS: the producer
// compresses that type's batches with it, the consumer decompresses them with
// it. The built-in codecs run synchronously; a registered one is awaited.
import { InvalidArgumentError } from '../errors.js';
import { compressRecords, decompressRecords } from './codecs.js';
import { batchInfos } from './decode.js';
import { ATTRIBUTE_CODEC_MASK, ATTRIBUTE_CONTROL, CODEC_GZIP, CODEC_LZ4, CODEC_NAMES, CODEC_NONE, CODEC_SNAPPY, CODEC_ZSTD, HEADER_SIZE } from './layout.js';

/** A KafkaJS codec: `compress` gets KafkaJS's Encoder, of which only `buffer` (the records) is read. */
export interface CompressionCodec {
  compress(encoder: { buffer: Buffer }): Promise<Buffer> | Buffer;
  decompress(buffer: Buffer): Promise<Buffer> | Buffer;
}

export type CompressionCodecFactory = () => CompressionCodec;

function builtIn(codec: number): CompressionCodecFactory {
  const instance: CompressionCodec = {
    async compress(encoder) {
      return compressRecords(codec, encoder.buffer);
    },
    async decompress(buffer) {
      return decompressRecords(codec, buffer);
    },
  };
  return () => instance;
}

const BUILT_IN: Readonly<Record<number, CompressionCodecFactory>> = {
  [CODEC_GZIP]: builtIn(CODEC_GZIP),
  [CODEC_SNAPPY]: builtIn(CODEC_SNAPPY),
  [CODEC_LZ4]: builtIn(CODEC_LZ4),
  [CODEC_ZSTD]: builtIn(CODEC_ZSTD),
};

/** KafkaJS's `CompressionCodecs`: assign a factory to a CompressionTypes number to replace Fjord's built-in codec for it. */
export const CompressionCodecs: Record<number, CompressionCodecFactory> = { ...BUILT_IN };

/**
 * The codec registered in place of the built-in one for `codec`, or null when
 * the built-in one applies (also when the entry was deleted). Calls the
 * factory, as KafkaJS does at each use.
 */
export function registeredCodec(codec: number): CompressionCodec | null {
  const factory = CompressionCodecs[codec];
  if (codec === CODEC_NONE || factory === undefined || factory === BUILT_IN[codec]) return null;
  if (typeof factory !== 'function') {
    throw new InvalidArgumentError(`CompressionCodecs[${codec}] (${CODEC_NAMES[codec]}) must be a function returning { compress, decompress }`);
  }
  const instance = factory();
  if (instance === null || typeof instance !== 'object' || typeof instance.compress !== 'function' || typeof instance.decompress !== 'function') {
    throw new InvalidArgumentError(`CompressionCodecs[${codec}] (${CODEC_NAMES[codec]}) returned no { compress, decompress } codec`);
  }
  return instance;
}

/** Whether any type's codec was replaced: the read path awaits registered codecs only then. */
export function hasRegisteredCodecs(): boolean {
  for (const codec of [CODEC_GZIP, CODEC_SNAPPY, CODEC_LZ4, CODEC_ZSTD]) {
    const factory = CompressionCodecs[codec];
    if (factory !== undefined && factory !== BUILT_IN[codec]) return true;
  }
  return false;
}

/** A registered codec's output as a Buffer (a Uint8Array is taken as is); InvalidArgumentError for anything else. */
function asBuffer(out: unknown, name: string, call: string): Buffer {
  if (Buffer.isBuffer(out)) return out;
  if (out instanceof Uint8Array) return Buffer.from(out.buffer, out.byteOffset, out.byteLength);
  throw new InvalidArgumentError(`the registered ${name} codec's ${call}() gave no Buffer`);
}

/** `records` (a batch's records section) compressed by a registered codec. */
export async function compressWith(codec: CompressionCodec, records: Buffer, name: string): Promise<Buffer> {
  return asBuffer(await codec.compress({ buffer: records }), name, 'compress');
}

/**
 * The records of the data batches in `bytes` at or past `fromOffset` whose
 * codec was replaced by a registered one, decompressed by it, by batch
 * position: what `recordSections` reads instead of decompressing them itself.
 * A failure is the codec's own error.
 */
export async function decompressRegistered(bytes: Buffer, fromOffset: number): Promise<Map<number, Buffer>> {
  const out = new Map<number, Buffer>();
  for (const info of batchInfos(bytes)) {
    if (info.lastOffset < fromOffset || (info.attributes & ATTRIBUTE_CONTROL) !== 0 || info.recordCount === 0) continue;
    const codec = info.attributes & ATTRIBUTE_CODEC_MASK;
    const registered = registeredCodec(codec);
    if (registered === null) continue;
    const records = await registered.decompress(bytes.subarray(info.position + HEADER_SIZE, info.position + info.size));
    out.set(info.position, asBuffer(records, CODEC_NAMES[codec]!, 'decompress'));
  }
  return out;
}
