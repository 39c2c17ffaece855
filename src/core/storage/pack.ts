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
  // A field's bits are taken from each character's as many at a time as it holds: rules are decoded
  // whenever the scheduler checks one (rules.ts), so this runs often. No locals beyond these: it also
  // runs at boot, under its deepest stack.
  for (let i = 0; i < ranges.length; i++) {
    let v = 0;
    for (let need = bitsFor(ranges[i]); need > 0; ) {
      if (held === 0) {
        // the character's place in DIGITS, by its code (no one-character string made, no search)
        acc = text.charCodeAt(at++);
        acc = acc >= 97 && acc <= 122 ? acc - 61 : acc >= 65 && acc <= 90 ? acc - 55 : acc >= 48 && acc <= 57 ? acc - 48 : acc === 45 ? 62 : acc === 95 ? 63 : -1;
        if (acc < 0) return undefined;
        held = 6;
      }
      if (need >= held) {
        v = v * (1 << held) + (acc & ((1 << held) - 1));
        need -= held;
        held = 0;
      } else {
        held -= need;
        v = v * (1 << need) + ((acc >> held) & ((1 << need) - 1));
        need = 0;
      }
    }
    v += ranges[i][0];
    if (v > ranges[i][1]) return undefined;
    out.push(v);
  }
  return out;
}
