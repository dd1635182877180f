// Kafka's record headers are a list of (name, value) pairs; KafkaJS gives them
// as an object. The one flattening of that object into the list, and back.

/** A header value as written: bytes, UTF-8 text, or null (a null value). */
export type HeaderValue = Buffer | string | null;

/** Headers as KafkaJS takes them: an array writes its name once per element, in order; `undefined` writes nothing. */
export type HeadersObject = Record<string, HeaderValue | HeaderValue[] | undefined>;

/**
 * Appends the headers that `headers` writes to `names` and `values`, in order:
 * per own enumerable name, none for an undefined value, one per element for
 * an array, else one. The values are not checked: the caller measures them,
 * and throws with its own message.
 */
export function flattenHeaders(headers: object, names: string[], values: unknown[]): void {
  for (const name of Object.keys(headers)) {
    const value: unknown = (headers as Record<string, unknown>)[name];
    if (value === undefined) continue;
    if (Array.isArray(value)) {
      for (let k = 0; k < value.length; k++) {
        names.push(name);
        values.push(value[k]);
      }
    } else {
      names.push(name);
      values.push(value);
    }
  }
}

/** Flattened headers back as an object (a repeated name as an array of its values), writing the same list. */
export function headersObject(names: readonly string[], values: readonly HeaderValue[]): HeadersObject {
  // No prototype: a header may be named __proto__.
  const object: Record<string, HeaderValue | HeaderValue[]> = Object.create(null);
  for (let h = 0; h < names.length; h++) {
    const name = names[h]!;
    const value = values[h]!;
    if (!Object.hasOwn(object, name)) object[name] = value;
    else {
      const previous = object[name]!;
      if (Array.isArray(previous)) previous.push(value);
      else object[name] = [previous, value];
    }
  }
  return object;
}
