// Issue 18 on the host target over real loopback sockets: which ports each mode serves (secure
// closes the Kasa port, TCP and UDP; legacy has no KLAP and no discovery; both has all), discovery
// on UDP as python-kasa reads it advertising the KLAP port really bound, the --credentials file
// (kept as their hash only: no state file holds the password) and its refusals on the command line.

import { createSocket } from "node:dgram";
import { createHash } from "node:crypto";
import { connect, createServer } from "node:net";
import { chmodSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { parseCommandLine, UsageError } from "../src/host/cli.js";
import { VirtualPlug, type VirtualPlugOptions } from "../src/host/virtual-plug.js";
import { tdpCrc } from "../src/core/klap/discovery.js";
import { HostPlugs } from "./support/host-plugs.js";
import { askOnce, udpAsk } from "./support/raw-client.js";
import { authHashOf, handshake1, handshake2, handshake2Body, HttpConnection, KlapError, klapConnect } from "../src/host/klap-client.js";
import { until } from "./support/until.js";
import { DEVICE_LIMITS } from "../src/core/limits.js";

const host = new HostPlugs("plug-klap-");
afterEach(() => host.stopAll());

const USER = "owner@example.com";
const PASSWORD = "plug-owner-secret-4812";

async function start(options: Partial<VirtualPlugOptions>): Promise<VirtualPlug> {
  const plug = await VirtualPlug.start({ port: 0, httpPort: 0, klapPort: 0, discoveryPort: 0, stateDir: host.stateDir(), log: () => {}, ...options });
  host.plugs.push(plug);
  return plug;
}

/** A port free on loopback for both TCP and UDP right now (bound by the system, then let go). */
async function freePort(): Promise<number> {
  for (;;) {
    const server = createServer();
    const port = await new Promise<number>((resolve) => server.listen(0, "127.0.0.1", () => resolve((server.address() as { port: number }).port)));
    await new Promise((resolve) => server.close(resolve));
    const udp = createSocket("udp4");
    const ok = await new Promise<boolean>((resolve) => {
      udp.once("error", () => resolve(false));
      udp.bind(port, "127.0.0.1", () => resolve(true));
    });
    if (ok) {
      await new Promise((resolve) => udp.close(() => resolve(undefined)));
      return port;
    }
  }
}

/** How a TCP connection to the port ends: "connected" or the error's code (ECONNREFUSED). */
function tcpConnect(port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    socket.once("connect", () => {
      socket.destroy();
      resolve("connected");
    });
    socket.once("error", (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
  });
}

/** Whether a datagram to the port is refused (nothing bound: the kernel's port-unreachable, no waiting for a silence). */
function udpRefused(port: number): Promise<boolean> {
  const socket = createSocket("udp4");
  return new Promise((resolve) => {
    socket.once("error", (e: NodeJS.ErrnoException) => {
      socket.close();
      resolve(e.code === "ECONNREFUSED");
    });
    socket.once("message", () => {
      socket.close();
      resolve(false);
    });
    socket.connect(port, "127.0.0.1", () => socket.send(Buffer.from("020000010000000000000000463cb5d3", "hex")));
  });
}

/** python-kasa's probe (the header-only DISCOVERY_QUERY_2 with a valid CRC), answered with the JSON after 16 bytes. */
async function discover(port: number): Promise<any> {
  const q = Buffer.from("0200000100000000000000005a6b7c8d", "hex");
  const crc = tdpCrc(q);
  q.writeUInt32BE(crc, 12);
  const answer = await udpAsk(port, q);
  return JSON.parse(answer.bytes.subarray(16).toString("utf8"));
}

function authHashHex(user: string, password: string): string {
  const md5 = (b: Buffer) => createHash("md5").update(b).digest();
  return md5(Buffer.concat([md5(Buffer.from(user)), md5(Buffer.from(password))])).toString("hex");
}

describe("the modes over real sockets", () => {
  it("secure: the Kasa port refuses TCP and UDP; discovery answers with the KLAP port, which is bound", async () => {
    const port = await freePort();
    const plug = await start({ port, mode: "secure" });
    expect(await tcpConnect(port)).toBe("ECONNREFUSED");
    expect(await udpRefused(port)).toBe(true);
    const json = await discover(plug.discoveryPort);
    expect(json.result).toMatchObject({ device_type: "IOT.SMARTPLUGSWITCH", ip: "127.0.0.1", mgt_encrypt_schm: { encrypt_type: "KLAP", http_port: plug.klapPort, is_support_https: false } });
    expect(plug.klapPort).toBeGreaterThan(0);
    expect(await tcpConnect(plug.klapPort)).toBe("connected");
  });

  it("legacy (the default): no KLAP port and no discovery", async () => {
    const [klapPort, discoveryPort] = [await freePort(), await freePort()];
    const plug = await start({ klapPort, discoveryPort });
    expect((await askOnce(plug.port, { system: { get_sysinfo: {} } })).system.get_sysinfo.err_code).toBe(0);
    expect(await tcpConnect(klapPort)).toBe("ECONNREFUSED");
    expect(await udpRefused(discoveryPort)).toBe(true);
  });

  it("both: the Kasa port on TCP and UDP, KLAP and discovery", async () => {
    const plug = await start({ mode: "both" });
    expect((await askOnce(plug.port, { system: { get_sysinfo: {} } })).system.get_sysinfo.err_code).toBe(0);
    expect(JSON.parse((await udpAsk(plug.port, '{"system":{"get_sysinfo":{}}}')).text).system.get_sysinfo.err_code).toBe(0);
    expect((await discover(plug.discoveryPort)).result.mgt_encrypt_schm.http_port).toBe(plug.klapPort);
    expect(await tcpConnect(plug.klapPort)).toBe("connected");
  });
});

describe("--credentials", () => {
  it("keeps the auth hash in the state directory, never the password, across a restart", async () => {
    const stateDir = host.stateDir();
    const plug = await start({ mode: "secure", stateDir, credentials: { username: USER, password: PASSWORD } });
    expect((await discover(plug.discoveryPort)).result.factory_default).toBe(false);
    plug.stop();
    const files = readdirSync(stateDir).map((f) => readFileSync(join(stateDir, f), "utf8"));
    expect(files.some((text) => text.includes(authHashHex(USER, PASSWORD)))).toBe(true);
    expect(files.filter((text) => text.includes(PASSWORD) || text.includes(USER))).toEqual([]);
    const again = await start({ mode: "secure", stateDir });
    expect((await discover(again.discoveryPort)).result.factory_default).toBe(false);
    expect(Buffer.from(again.plug.context.owner!.authHash()!).toString("hex")).toBe(authHashHex(USER, PASSWORD));
  });

  it("the command line refuses a file others can read, one that is not the JSON asked for, weak or default credentials", () => {
    const dir = host.stateDir();
    const file = (name: string, text: string, mode = 0o600) => {
      const path = join(dir, name);
      writeFileSync(path, text);
      chmodSync(path, mode);
      return path;
    };
    const refusal = (...argv: string[]) => {
      try {
        parseCommandLine([...argv, "--state-dir", join(dir, "state")]);
        return undefined;
      } catch (e) {
        if (!(e instanceof UsageError)) throw e;
        return e.message;
      }
    };
    const good = file("good.json", JSON.stringify({ username: USER, password: PASSWORD }));
    expect(parseCommandLine(["--mode", "secure", "--credentials", good, "--state-dir", join(dir, "state")]).credentials).toEqual({ username: USER, password: PASSWORD });
    const open = file("open.json", JSON.stringify({ username: USER, password: PASSWORD }), 0o644);
    expect(refusal("--mode", "secure", "--credentials", open)).toBe(`--credentials: ${open} is readable by every user of this machine: chmod 600 ${open}`);
    for (const text of ["{", "[]", '{"username":"a"}', `{"username":"${USER}","password":7}`]) {
      expect(refusal("--mode", "both", "--credentials", file("bad.json", text))).toMatch(/^--credentials: .* must hold JSON \{"username": "\.\.\.", "password": "\.\.\."\}$/);
    }
    const cases: [string, string, RegExp][] = [
      [USER, "pw-9chars", /password too short: at least 10 characters$/],
      ["kasa@tp-link.net", "kasaSetup", /TP-Link's default credentials are refused/],
      ["", PASSWORD, /a username and a password are both needed$/],
    ];
    for (const [username, password, reason] of cases) {
      const message = refusal("--mode", "secure", "--credentials", file("weak.json", JSON.stringify({ username, password })));
      expect(message).toMatch(reason);
      expect(message).not.toContain(password === "" ? "\u0000" : password);
    }
    expect(refusal("--credentials", good)).toBeUndefined(); // legacy mode: the owner's page's credentials (issue 19)
    expect(refusal("--mode", "strict")).toBe('--mode must be legacy, secure or both, not "strict"');
    expect(refusal("--http-port-klap", "8880")).toBe("--http-port-klap is for KLAP: add --mode secure or --mode both");
    expect(refusal("--mode", "both", "--http-port-klap", "9999")).toBe("--http-port-klap 9999 is the plug's --port: KLAP needs a port of its own");
  });
});

/** Whether KLAP with these credentials is refused, and how: the status of the step that refused, or "authentication" (the plug's proof did not match). */
async function refusal(port: number, username: string, password: string): Promise<string | undefined> {
  try {
    (await klapConnect("127.0.0.1", port, username, password)).close();
    return undefined;
  } catch (e) {
    if (!(e instanceof KlapError)) throw e;
    return e.status !== undefined ? String(e.status) : "authentication";
  }
}

describe("KLAP control of the host plug, end to end over its sockets", () => {
  it("secure with --credentials: the owner's client reads and switches the plug; the Kasa port stays shut", async () => {
    const plug = await start({ mode: "secure", credentials: { username: USER, password: PASSWORD } });
    const client = await klapConnect("127.0.0.1", plug.klapPort, USER, PASSWORD);
    try {
      expect((await client.request({ system: { get_sysinfo: {} } })).system.get_sysinfo).toMatchObject({ err_code: 0, relay_state: 0, model: expect.stringMatching(/^HS100/) });
      expect(await client.request({ system: { set_relay_state: { state: 1 } } })).toEqual({ system: { set_relay_state: { err_code: 0 } } });
      await until(() => plug.relay.on, "the relay on", DEVICE_LIMITS.relayGapMs + 400);
      expect((await client.request({ system: { get_sysinfo: {} } })).system.get_sysinfo.relay_state).toBe(1);
    } finally {
      client.close();
    }
    expect(await tcpConnect(plug.port)).toBe("ECONNREFUSED");
  });

  it("refuses a wrong password, a wrong username and no credentials at all, and nothing moves", async () => {
    const plug = await start({ mode: "secure", credentials: { username: USER, password: PASSWORD } });
    expect(await refusal(plug.klapPort, USER, "not-the-password-0")).toBe("authentication");
    expect(await refusal(plug.klapPort, "someone@example.com", PASSWORD)).toBe("authentication");
    expect(await refusal(plug.klapPort, "", "")).toBe("authentication");
    // a client that sends handshake2 anyway (it cannot know the auth hash): 403, and its cookie opens nothing
    const conn = await HttpConnection.open("127.0.0.1", plug.klapPort);
    try {
      const h1 = await handshake1(conn, new Uint8Array(16).fill(7));
      expect(h1.answer.status).toBe(200);
      expect((await handshake2(conn, h1.cookie, handshake2Body(h1.remoteSeed, authHashOf(USER, "not-the-password-0")))).status).toBe(403);
    } finally {
      conn.close();
    }
    expect(plug.relay.on).toBe(false);
  });

  it("a plug without credentials refuses every client, blank and TP-Link's defaults included", async () => {
    const plug = await start({ mode: "secure" });
    expect(await refusal(plug.klapPort, "", "")).toBe("403");
    expect(await refusal(plug.klapPort, "kasa@tp-link.net", "kasaSetup")).toBe("403");
    expect(await refusal(plug.klapPort, USER, PASSWORD)).toBe("403");
  });

  it("both, unprovisioned: the owner sets credentials with cnCloud.bind on the setup network, then KLAP works with them alone", async () => {
    const plug = await start({ mode: "both", factory: true });
    expect(await refusal(plug.klapPort, USER, PASSWORD)).toBe("403");
    const bind = await askOnce(plug.port, { cnCloud: { bind: { username: USER, password: PASSWORD } } });
    expect(bind).toEqual({ cnCloud: { bind: { err_code: 0 } } });
    expect(await refusal(plug.klapPort, USER, PASSWORD)).toBeUndefined();
    expect(await refusal(plug.klapPort, USER, "not-the-password-0")).toBe("authentication");
    const weak = await askOnce(plug.port, { cnCloud: { bind: { username: USER, password: "short" } } });
    expect(weak.cnCloud.bind.err_code).toBe(-3);
    expect(JSON.stringify(weak)).not.toContain("short\"");
    expect(await refusal(plug.klapPort, USER, PASSWORD)).toBeUndefined();
  });
});
