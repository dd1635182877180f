// Buffers that view part of an ArrayBuffer, made as cheaply as Node makes its
// own: `buf.subarray` costs about twice as much per call (argument clamping
// and the `buffer` / `byteOffset` getters), which shows when a fetch hands out
// millions of small values. Node's own view class (FastBuffer) is internal, so
// this is the same thing: a Uint8Array subclass under Buffer.prototype.
// Instances are Buffers in every observable way: Buffer.isBuffer, instanceof,
// every Buffer method, `constructor === Buffer`, and util.inspect.

interface BufferViewConstructor {
  new (arrayBuffer: ArrayBufferLike, byteOffset: number, length: number): Buffer;
}

class View extends Uint8Array {}
Object.setPrototypeOf(View.prototype, Buffer.prototype);
Object.defineProperty(View.prototype, 'constructor', { value: Buffer, writable: true, enumerable: false, configurable: true });

/** `new BufferView(arrayBuffer, byteOffset, length)`: a Buffer viewing those bytes, no copy. */
export const BufferView = View as unknown as BufferViewConstructor;
