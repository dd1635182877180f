// Decimal strings of offsets, which KafkaJS hands out as strings: one per
// message. String(n) of a number outside V8's small number-string cache costs
// a runtime call; consecutive offsets share all but their last three digits,
// so the prefix is converted once per thousand and the rest looked up.

const PADDED = Array.from({ length: 1000 }, (_, i) => String(i).padStart(3, '0'));
const SMALL = Array.from({ length: 1000 }, (_, i) => String(i));

let lastThousands = -1;
let lastPrefix = '';

/** String(n), for a non-negative safe integer `n`. */
export function decimal(n: number): string {
  if (n < 1000) return SMALL[n]!;
  const thousands = Math.floor(n / 1000);
  if (thousands !== lastThousands) {
    lastThousands = thousands;
    lastPrefix = String(thousands);
  }
  return lastPrefix + PADDED[n - thousands * 1000]!;
}
