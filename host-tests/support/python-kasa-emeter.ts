// What python-kasa makes of an emeter answer, ported line for line from its sources (python-kasa
// master: kasa/emeterstatus.py `EmeterStatus.__getitem__`, kasa/iot/modules/emeter.py
// `Emeter._convert_stat_data`), so a test can check the numbers `kasa energy` would print.

const VALID_KEYS = ["voltage_mv", "power_mw", "current_ma", "energy_wh", "total_wh", "voltage", "power", "current", "total", "energy"];

/**
 * EmeterStatus[item]: the key itself when present; otherwise "x_unit" is x × 1000 and "x" is the
 * first key starting with "x" divided by 1000. Null where python-kasa finds nothing (it logs and
 * returns None), undefined stands for its KeyError.
 */
export function emeterStatus(data: Record<string, unknown>, item: string): number | null | undefined {
  if (item in data) return data[item] as number;
  if (!VALID_KEYS.includes(item)) return undefined;
  if (item.includes("_")) {
    const base = item.slice(0, item.indexOf("_"));
    if (!(base in data)) throw new Error(`KeyError: ${base}`); // what python-kasa would raise
    return (data[base] as number) * 1000;
  }
  for (const key of Object.keys(data)) {
    if (!key.startsWith(item)) continue;
    const value = emeterStatus(data, key);
    if (value !== null && value !== undefined) return value / 1000;
  }
  return null;
}

/**
 * Emeter._convert_stat_data(data, entry_key, kwh=True): {day or month: kWh}. The unit family comes
 * from the first entry (`energy_wh` → Wh, else `energy` in kWh); every entry must carry the key.
 */
export function convertStatData(list: Array<Record<string, number>>, entryKey: "day" | "month"): Map<number, number> {
  const out = new Map<number, number>();
  if (list.length === 0) return out;
  const valueKey = "energy_wh" in list[0] ? "energy_wh" : "energy";
  const scale = valueKey === "energy_wh" ? 1 / 1000 : 1;
  for (const entry of list) {
    if (!(entryKey in entry)) throw new Error(`KeyError: ${entryKey}`);
    if (!(valueKey in entry)) throw new Error(`KeyError: ${valueKey}`);
    out.set(entry[entryKey], entry[valueKey] * scale);
  }
  return out;
}

/**
 * The raw number tokens of every `"key":value` in JSON `text`, as Python's json module reads them:
 * a token with a point or an exponent is a float, any other an int (JSON.parse loses the difference).
 */
export function numberTokens(text: string, key: string): string[] {
  const out: string[] = [];
  const re = new RegExp(`"${key}":(-?[0-9][0-9.eE+-]*)`, "g");
  for (let m = re.exec(text); m !== null; m = re.exec(text)) out.push(m[1]);
  return out;
}

const isPythonFloat = (token: string) => /[.eE]/.test(token);

/**
 * What python-kasa's own tests demand of a v1 realtime answer (tests/iot/modules/test_emeter.py,
 * run against a device with --ip): `CURRENT_CONSUMPTION_SCHEMA` (voltage `All(float, Range(0,
 * 300))`, current `All(float)`; power and total are coerced) in `test_get_emeter_realtime`, and
 * `isinstance(emeter.current_consumption, float)` (the power) in `test_current_consumption`.
 * The failures, empty when both pass.
 */
export function pythonKasaRealtimeFailures(text: string): string[] {
  const failures: string[] = [];
  for (const token of numberTokens(text, "voltage")) {
    if (!isPythonFloat(token) || !(Number(token) >= 0 && Number(token) <= 300)) failures.push(`voltage ${token} is not a float in 0-300`);
  }
  for (const token of numberTokens(text, "current")) if (!isPythonFloat(token)) failures.push(`current ${token} is not a float`);
  for (const token of numberTokens(text, "power")) if (!isPythonFloat(token)) failures.push(`power ${token} is an int: current_consumption is not a float`);
  return failures;
}
