/*
 * What an ESP32 keeps across a restart that the SDK (8.2.3) does not reach, for update-esp32.ts:
 * ESP-IDF's app rollback state, and the level a relay pin is driving. Built for the esp32 platform
 * only (manifest.json).
 *
 * Rollback: after an update (embedded:update's complete(): esp_ota_end, esp_ota_set_boot_partition)
 * the bootloader boots the new app once with its otadata state ESP_OTA_IMG_PENDING_VERIFY when
 * CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE is set (sdkconfig/sdkconfig.defaults); restarted in that
 * state, the bootloader marks it aborted and boots the previous app.
 * esp_ota_mark_app_valid_cancel_rollback makes it ESP_OTA_IMG_VALID.
 *
 * Relay: esp_restart on an ESP32 (ESP-IDF's esp_restart_noos, port/soc/esp32/system_internal.c)
 * resets the CPUs and some peripherals (Wi-Fi, timers, SPI, UART, PWM, I2S, crypto) but not the GPIO
 * peripheral: an output pin goes on driving its level through the restart and the bootloader, and
 * GPIO_OUT_REG still holds it when the app starts. Opening the relay's Digital with that level as its
 * initial value changes nothing on the pin; the plug's power-on policy then sets it. Read only after
 * esp_restart or a panic (esp_reset_reason ESP_RST_SW, ESP_RST_PANIC: both end in esp_restart_noos);
 * after a power-on, the reset pin, a brownout or the RTC watchdog's system reset the pins were reset
 * and the relay starts off. The ESP32-C3/S2/S3/C6/H2 restart with a system reset that clears GPIO:
 * not read there (-1).
 */

#include "xsmc.h"
#include "xsHost.h"
#include "sdkconfig.h"
#include "esp_partition.h"
#include "app_update/include/esp_ota_ops.h"
#include "esp_system.h"
#include "driver/gpio.h"
#include "soc/gpio_struct.h"

#ifndef CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE
	#error "signed updates need CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE=y (the project's src/moddable/sdkconfig/sdkconfig.defaults, through the manifest's build.SDKCONFIGPATH)"
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

/** The level (0 or 1) a restart left in the output register of an output-capable pin; -1 where it is not known. */
void xs_plug_driven_level(xsMachine *the)
{
	int pin = xsmcToInteger(xsArg(0));
	int level = -1;

#if CONFIG_IDF_TARGET_ESP32
	esp_reset_reason_t why = esp_reset_reason();
	if (((ESP_RST_SW == why) || (ESP_RST_PANIC == why)) && (pin >= 0) && (pin < GPIO_NUM_MAX) && GPIO_IS_VALID_OUTPUT_GPIO(pin))
		level = (int)(((pin < 32) ? GPIO.out : GPIO.out1.data) >> (pin & 31)) & 1;
#endif
	xsmcSetInteger(xsResult, level);
}
