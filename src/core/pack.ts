// Small integers packed into short ASCII text, six bits per character, for settings that must fit
// one setting (60 bytes: an ESP8266 Preference value less its check): a rule is 9-17 characters plus
// its name, a month of daily statistics 59. Each field is written in the fewest bits its range needs.

/** The 64 characters, one per six bits (also the alphabet of safe-store.ts's checks). */
export const DIGITS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-_";

/** A field's range: values min..max inclusive. */
export type FieldRange = readonly [min: number, max: number];

function bitsFor(range: FieldRange): number {
  let bits = 0;
  for (let span = range[1] - range[0]; span > 0; span = Math.floor(span / 2)) bits++;
  return bits;
}

/** Characters `pack` writes for these fields. */
export function packedLength(ranges: readonly FieldRange[]): number {
  let bits = 0;
  for (let i = 0; i < ranges.length; i++) bits += bitsFor(ranges[i]);
  return Math.ceil(bits / 6);
}

/** Packs values (each within its range: the caller validated them) into text. */
export function pack(values: ArrayLike<number>, ranges: readonly FieldRange[]): string {
  let out = "";
  let acc = 0;
  let held = 0;
  for (let i = 0; i < ranges.length; i++) {
    const bits = bitsFor(ranges[i]);
    const v = values[i] - ranges[i][0];
    // feed the value's bits from the top, a character out whenever six are held
    for (let b = bits - 1; b >= 0; b--) {
      acc = acc * 2 + (Math.floor(v / 2 ** b) % 2);
      if (++held === 6) {
        out += DIGITS[acc];
        acc = 0;
        held = 0;
      }
    }
  }
  if (held > 0) out += DIGITS[acc * 2 ** (6 - held)];
  return out;
}

/** Reads values packed by `pack` from text[start..]; undefined when the text is short, foreign or out of range. */
export function unpack(text: string, ranges: readonly FieldRange[], start = 0): number[] | undefined {
  if (text.length < start + packedLength(ranges)) return undefined;
  const out: number[] = [];
  let at = start;
  let acc = 0;
  let held = 0;
  for (let i = 0; i < ranges.length; i++) {
    let v = 0;
    for (let b = bitsFor(ranges[i]); b > 0; b--) {
      if (held === 0) {
        acc = DIGITS.indexOf(text[at++]);
        if (acc < 0) return undefined;
        held = 6;
      }
      held--;
      v = v * 2 + (Math.floor(acc / 2 ** held) % 2);
    }
    v += ranges[i][0];
    if (v > ranges[i][1]) return undefined;
    out.push(v);
  }
  return out;
}
