/*
 * The running app's rollback state on ESP32, for update-esp32.ts: ESP-IDF's app rollback, which the
 * SDK (8.2.3) does not reach. Built for the esp32 platform only (manifest.json).
 *
 * After an update (embedded:update's complete(): esp_ota_end, esp_ota_set_boot_partition) the
 * bootloader boots the new app once with its otadata state ESP_OTA_IMG_PENDING_VERIFY when
 * CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE is set (sdkconfig/sdkconfig.defaults); restarted in that
 * state, the bootloader marks it aborted and boots the previous app. esp_ota_mark_app_valid_cancel_rollback
 * makes it ESP_OTA_IMG_VALID.
 */

#include "xsmc.h"
#include "xsHost.h"
#include "sdkconfig.h"
#include "esp_partition.h"
#include "app_update/include/esp_ota_ops.h"

#ifndef CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE
	#error "signed updates need CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE=y (the project's sdkconfig/sdkconfig.defaults, through the manifest's build.SDKCONFIGPATH)"
#endif

/** Whether the running app is on trial: booted once after an update, not marked valid yet. */
void xs_plug_ota_pending(xsMachine *the)
{
	esp_ota_img_states_t state;
	const esp_partition_t *running = esp_ota_get_running_partition();

	xsmcSetBoolean(xsResult, running && (ESP_OK == esp_ota_get_state_partition(running, &state)) && (ESP_OTA_IMG_PENDING_VERIFY == state));
}

/** Marks the running app valid (no rollback at the next restart); true when ESP-IDF took it. */
void xs_plug_ota_confirm(xsMachine *the)
{
	xsmcSetBoolean(xsResult, ESP_OK == esp_ota_mark_app_valid_cancel_rollback());
}
