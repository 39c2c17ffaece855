/** Whether the running app is on trial (ESP_OTA_IMG_PENDING_VERIFY): booted once after an update and not confirmed yet. */
export declare function otaPending(): boolean;
/** Marks the running app valid (esp_ota_mark_app_valid_cancel_rollback): true when ESP-IDF took it. */
export declare function otaConfirm(): boolean;
/** The level (0 or 1) an output pin's register holds, as a restart left it; -1 where it is not read (not an ESP32, not an output pin). */
export declare function drivenLevel(pin: number): number;
