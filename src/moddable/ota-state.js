// The running app's rollback state on ESP32 (ota-state.c: ESP-IDF's esp_ota_get_state_partition and
// esp_ota_mark_app_valid_cancel_rollback), for update-esp32.ts. A host function needs JavaScript
// (TypeScript has no syntax for it); ota-state.d.ts types it.

function pending() @ "xs_plug_ota_pending";
function confirm() @ "xs_plug_ota_confirm";

export function otaPending() {
  return pending();
}

export function otaConfirm() {
  return confirm();
}
