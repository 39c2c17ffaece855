// The names the plug reads from requests (REQUEST_NAMES, src/core/plug.ts) against the code. On XS a
// request is parsed keeping only members of those names (src/core/protocol/dispatcher.ts says why), so a
// parameter a method reads but the list lacks would never reach the method on a device, while on Node
// (which keeps every member) every other test would still pass. The parameters read are found in the
// core's source: `params.x`, `has(params, "x")` and `optionalInt(params, "x", ...)`, the only ways
// the methods and their readers read them.

import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { antiTheftModule } from "../src/core/modules/anti_theft.js";
import { cnCloudModule } from "../src/core/modules/cncloud.js";
import { countDownModule } from "../src/core/modules/count_down.js";
import { METER } from "../src/core/modules/emeter.js";
import { netifModule } from "../src/core/modules/netif.js";
import { scheduleModule } from "../src/core/modules/schedule.js";
import { systemModule } from "../src/core/modules/system.js";
import { timeModule } from "../src/core/modules/time.js";
import { CLIENT_NAMES, REQUEST_NAMES } from "../src/core/plug.js";
import { testPlug } from "./support/fakes.js";

const CORE = fileURLToPath(new URL("../src/core/", import.meta.url));

/** Every parameter name the core's code reads, with the files that read it. */
function parametersRead(): Map<string, string[]> {
  const found = new Map<string, string[]>();
  const files = (readdirSync(CORE, { recursive: true }) as string[]).filter((f) => f.endsWith(".ts"));
  for (const file of files) {
    // comments out: they mention params.x as examples
    const code = readFileSync(join(CORE, file), "utf8").replace(/\/\*[\s\S]*?\*\//g, "").replace(/\/\/.*$/gm, "");
    // (not "./params.js", a module's path)
    for (const m of code.matchAll(/(?<![\w$./])params\.([A-Za-z_$][\w$]*)|\b(?:has|optionalInt)\(params, "([^"]*)"/g)) {
      const name = m[1] ?? m[2];
      found.set(name, [...(found.get(name) ?? []), file]);
    }
  }
  return found;
}

describe("the names the plug reads from requests", () => {
  const read = parametersRead();

  it("hold every parameter the methods read", () => {
    expect(read.size).toBeGreaterThan(40); // (the search finds them)
    const missing = [...read].filter(([name]) => !REQUEST_NAMES.includes(name)).map(([name, files]) => `${name} (${files.join(", ")})`);
    expect(missing).toEqual([]);
  });

  it("are the modules', their methods' and those parameters, once each, sorted", async () => {
    const methods = new Set([systemModule, netifModule, cnCloudModule, timeModule, scheduleModule, countDownModule, antiTheftModule, METER].flatMap((m) => Object.keys(m)));
    // (and the names real clients send that the plug does not answer)
    const others = REQUEST_NAMES.filter((name) => !read.has(name) && !methods.has(name) && !Object.keys(CLIENT_NAMES).includes(name));
    const t = testPlug({ model: "HS110" });
    // what is left is a module's name: a request for it is not answered "module not support"
    for (const name of others) expect((await t.ask({ [name]: {} }))[name], name).not.toEqual({ err_code: -1, err_msg: "module not support" });
    expect(others.length).toBe(8);
    expect([...REQUEST_NAMES]).toEqual([...new Set(REQUEST_NAMES)].sort());
    expect(Object.isFrozen(REQUEST_NAMES)).toBe(true);
  });
});
