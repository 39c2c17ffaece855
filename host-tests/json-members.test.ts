// The members of a request's objects read from its bytes (src/core/protocol/wire/json-members.ts) against
// JSON.parse: the same names in the same order (array indices first, a repeated name once, in its
// first place), each with where its last value starts, whatever the spaces, escapes and nesting.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { membersAt, nameBytes, namesKnown } from "../src/core/protocol/wire/json-members.js";
import { REQUEST_NAMES } from "../src/core/plug.js";
import { PYTHON_KASA_UPDATE, REAL_REQUESTS } from "./support/fuzz.js";
import { utf8Encode, utf8Length } from "../src/core/protocol/wire/utf8.js";
import { fuzzed } from "./support/fuzz.js";

const spaceArb = fc.string({ unit: fc.constantFrom(" ", "\t", "\r", "\n"), maxLength: 2 });

/** Names JSON.parse orders or treats apart: indices and near-indices, inherited names, quotes, escapes, any characters. */
const nameArb = fc.oneof(
  fc.constantFrom("0", "1", "2", "10", "01", "-1", "1.0", "4294967294", "4294967295", "", "__proto__", "constructor", "system", "get_sysinfo", 'a"b', "a\\b", "\u0000"),
  fc.nat({ max: 30 }).map(String),
  fc.string({ maxLength: 6 }),
  fc.string({ unit: "binary", maxLength: 4 }),
);

/** `name` as a JSON string, each character escaped as \uXXXX or not, as `escapes` says. */
function quoted(name: string, escapes: boolean[]): string {
  let out = '"';
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    out += escapes[i % escapes.length] ? `\\u${c.toString(16).padStart(4, "0")}` : JSON.stringify(name[i]).slice(1, -1);
  }
  return out + '"';
}

describe("members of a JSON object, from its bytes", () => {
  it("are JSON.parse's keys in its order, each with where its last value starts", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(nameArb, fc.json({ maxDepth: 3 }), fc.array(fc.boolean(), { minLength: 1, maxLength: 3 }), spaceArb), { maxLength: 12 }),
        spaceArb,
        (entries, lead) => {
          let text = `${lead}{`;
          const last = new Map<string, number>();
          entries.forEach(([name, value, escapes, space], i) => {
            text += `${i > 0 ? "," : ""}${space}${quoted(name, escapes)}${space}:${space}`;
            last.set(name, utf8Length(text));
            text += `${value}${space}`;
          });
          text += "}";
          const members = membersAt(utf8Encode(text), 0);
          const keys = Object.keys(JSON.parse(text));
          expect(members.names).toEqual(keys);
          expect(members.values).toEqual(keys.map((k) => last.get(k)));
        },
      ),
      fuzzed(1500),
    );
  });

  it("of an object inside another, from where its value starts", () => {
    const text = '{"system":{"b":1,"2":[{"x":{}}],"a":"}\\"{","b":{"c":2}},"time":5}';
    const bytes = utf8Encode(text);
    const outer = membersAt(bytes, 0);
    expect(outer.names).toEqual(["system", "time"]);
    const inner = membersAt(bytes, outer.values[0] as number);
    expect(inner.names).toEqual(["2", "b", "a"]);
    expect(inner.values.map((at) => text[at as number])).toEqual(["[", "{", '"']);
  });

  it("stops at the end of the bytes, whatever they hold", () => {
    for (const text of ['{"a', '{"a":', '{"a":{"b":[', '{"a":"\\', "{", ""]) expect(membersAt(utf8Encode(text), 0).names.length).toBeLessThanOrEqual(1);
  });
});

describe("requests whose names the plug all knows (parsed without the list of names)", () => {
  const known = (text: string) => namesKnown(utf8Encode(text), nameBytes(REQUEST_NAMES));

  it("are the real clients' requests", () => {
    expect(known(JSON.stringify(PYTHON_KASA_UPDATE))).toBe(true);
    for (const r of REAL_REQUESTS) expect(known(JSON.stringify(r.request)), r.name).toBe(true);
    expect(known('{ "system" : { "set_dev_alias" : { "alias" : "a \\"b\\" : c" } } }')).toBe(true);
  });

  it("are not requests with a name the plug does not know, an escaped name, or a string where none can be", () => {
    expect(known('{"system":{"get_sysinfo":{"x":1}}}')).toBe(false);
    expect(known('{"systems":{}}')).toBe(false);
    expect(known('{"syste":{}}')).toBe(false);
    expect(known('{"\\u0073ystem":{}}')).toBe(false);
    expect(known('{"system" "get_sysinfo"}')).toBe(false); // (XS makes the name a key before the syntax error)
    expect(known('{"system":{"get_sysinfo":{}}, "0":1}')).toBe(false);
    expect(known('{"Küche":{}}')).toBe(false);
  });
});
