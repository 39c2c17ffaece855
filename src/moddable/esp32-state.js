// What an ESP32 keeps across a restart (esp32-state.c): ESP-IDF's rollback state of the running app
// (esp_ota_get_state_partition, esp_ota_mark_app_valid_cancel_rollback) and a pin's driven level,
// for update-esp32.ts. A host function needs JavaScript (TypeScript has no syntax for it);
// esp32-state.d.ts types it.

function pending() @ "xs_plug_ota_pending";
function confirm() @ "xs_plug_ota_confirm";
function driven(pin) @ "xs_plug_driven_level";

export function otaPending() {
  return pending();
}

export function otaConfirm() {
  return confirm();
}

export function drivenLevel(pin) {
  return driven(pin);
}
