/*
 * Random bytes for the Moddable simulator on Linux (and macOS) from the OS: /dev/urandom.
 * Math.random there is the C library's rand(), which XS never seeds: every fresh simulator would
 * make the same setup passphrase, KLAP seeds and session cookies. The devices keep Math.random
 * (esp_random() on ESP32, the RNG register on ESP8266): this file is built for the "lin" platform only.
 */

#include "xsmc.h"
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <unistd.h>

/** The most bytes one call gives (the plug asks for 16 at a time). */
#define MAX_RANDOM_BYTES 256

void xs_plug_os_random(xsMachine *the)
{
	int length = xsmcToInteger(xsArg(0));
	int fd, got = 0;
	uint8_t *bytes;

	if ((length < 0) || (length > MAX_RANDOM_BYTES))
		xsRangeError("random: 0-256 bytes");
	xsmcSetArrayBuffer(xsResult, NULL, length);
	bytes = xsmcToArrayBuffer(xsResult);
	fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		xsUnknownError("random: cannot open /dev/urandom");
	while (got < length) {
		ssize_t n = read(fd, bytes + got, length - got);
		if (n > 0)
			got += (int)n;
		else if ((n < 0) && (errno == EINTR))
			continue;
		else
			break;
	}
	close(fd);
	if (got != length)
		xsUnknownError("random: short read from /dev/urandom");
}
