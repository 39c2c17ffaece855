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
