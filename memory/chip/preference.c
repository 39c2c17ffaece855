/*
 * Preference for the chip-true memory check: the natives of the SDK's generic `preference` module
 * (modules/files/preference/preference.js, the one ESP8266 builds use), kept OUTSIDE the XS heap as
 * on the chip, with the ESP8266's limits:
 *   - domain and key at most 31 characters ("too long");
 *   - a value at most 63 bytes (a string's terminating NUL counts), and a record (domain, key, type
 *     byte, value, a 2-byte length for buffers, rounded up to 4 bytes) at most 128 ("can't save prefs");
 *   - all records in one 4 KB sector after a 4-byte signature: a set appends its record after
 *     zeroing the old one, a delete zeroes it, and a full sector is compacted (the zeroed bytes
 *     dropped); a record that still does not fit is refused ("can't save prefs").
 * Values are boolean, int32, string or ArrayBuffer; other numbers throw "float unsupported".
 * The sector is kept in a file (--prefs), rewritten after each change, so that a second run of the
 * program boots on the settings of the first, as a plug does after a power cycle.
 */

#include "xsmc.h"
#include <stdio.h>
#include <string.h>

#define SECTOR 4096
#define SIGNATURE 4
#define MAX_NAME 31
#define MAX_VALUE 63
#define MAX_RECORD 128

enum { kBoolean = 1, kInteger = 2, kString = 3, kBuffer = 4 };

static uint8_t gSector[SECTOR];
static uint32_t gEnd = SIGNATURE; /* where the next record goes */
static const char *gPath = NULL;

static uint32_t valueSize(const uint8_t *value)
{
	switch (value[0]) {
	case kBoolean: return 1 + 1;
	case kInteger: return 1 + 4;
	case kString: return 1 + (uint32_t)strlen((const char *)value + 1) + 1;
	case kBuffer: return 1 + 2 + (value[1] | (value[2] << 8));
	}
	return 0;
}

/* the size of the record at `at` (0 when `at` holds no record) */
static uint32_t recordSize(uint32_t at)
{
	const char *domain = (const char *)gSector + at;
	if (!*domain)
		return 0;
	uint32_t size = (uint32_t)strlen(domain) + 1;
	size += (uint32_t)strlen((const char *)gSector + at + size) + 1;
	size += valueSize(gSector + at + size);
	return (size + 3) & ~3u;
}

/* the offset of the record for domain/key, or 0 */
static uint32_t find(const char *domain, const char *key)
{
	uint32_t at = SIGNATURE;
	while (at < gEnd) {
		if (!gSector[at]) {
			at++; /* zeroed: a deleted record's bytes */
			continue;
		}
		const char *d = (const char *)gSector + at;
		const char *k = d + strlen(d) + 1;
		if (!strcmp(d, domain) && !strcmp(k, key))
			return at;
		at += recordSize(at);
	}
	return 0;
}

static void save(void)
{
	if (!gPath)
		return;
	FILE *file = fopen(gPath, "wb");
	if (!file)
		return;
	fwrite(gSector, 1, gEnd, file);
	fclose(file);
}

void chipPreferenceOpen(const char *path)
{
	gPath = path;
	memset(gSector, 0, sizeof(gSector));
	gEnd = SIGNATURE;
	if (!path)
		return;
	FILE *file = fopen(path, "rb");
	if (!file)
		return;
	gEnd = (uint32_t)fread(gSector, 1, SECTOR, file);
	fclose(file);
	if (gEnd < SIGNATURE)
		gEnd = SIGNATURE;
}

static void erase(uint32_t at)
{
	memset(gSector + at, 0, recordSize(at));
}

static void compact(void)
{
	uint32_t from = SIGNATURE, to = SIGNATURE;
	while (from < gEnd) {
		if (!gSector[from]) {
			from++;
			continue;
		}
		uint32_t size = recordSize(from);
		memmove(gSector + to, gSector + from, size);
		to += size;
		from += size;
	}
	memset(gSector + to, 0, SECTOR - to);
	gEnd = to;
}

static int set(const char *domain, const char *key, uint8_t type, const uint8_t *value, uint32_t count)
{
	uint32_t size = (uint32_t)strlen(domain) + 1 + (uint32_t)strlen(key) + 1 + 1 + count + (type == kBuffer ? 2 : 0);
	size = (size + 3) & ~3u;
	if (size > MAX_RECORD || count > MAX_VALUE)
		return 0;
	uint32_t old = find(domain, key);
	if (old)
		erase(old);
	if (gEnd + size > SECTOR)
		compact();
	if (gEnd + size > SECTOR)
		return 0;
	uint8_t *p = gSector + gEnd;
	memset(p, 0, size);
	strcpy((char *)p, domain);
	p += strlen(domain) + 1;
	strcpy((char *)p, key);
	p += strlen(key) + 1;
	*p++ = type;
	if (type == kBuffer) {
		*p++ = count & 0xff;
		*p++ = count >> 8;
	}
	memcpy(p, value, count);
	gEnd += size;
	save();
	return 1;
}

void xs_preference_set(xsMachine *the)
{
	char domain[MAX_NAME + 1], key[MAX_NAME + 1];
	if (strlen(xsmcToString(xsArg(0))) > MAX_NAME || strlen(xsmcToString(xsArg(1))) > MAX_NAME)
		xsUnknownError("too long");
	strcpy(domain, xsmcToString(xsArg(0)));
	strcpy(key, xsmcToString(xsArg(1)));
	int ok = 0;
	int32_t integer;
	uint8_t boolean;
	switch (xsmcTypeOf(xsArg(2))) {
	case xsBooleanType:
		boolean = xsmcToBoolean(xsArg(2)) ? 1 : 0;
		ok = set(domain, key, kBoolean, &boolean, 1);
		break;
	case xsIntegerType:
		integer = xsmcToInteger(xsArg(2));
		ok = set(domain, key, kInteger, (uint8_t *)&integer, 4);
		break;
	case xsNumberType: {
		double number = xsmcToNumber(xsArg(2));
		integer = (int32_t)number;
		if (number != integer)
			xsUnknownError("float unsupported");
		ok = set(domain, key, kInteger, (uint8_t *)&integer, 4);
		break;
	}
	case xsStringType: {
		const char *text = xsmcToString(xsArg(2));
		ok = set(domain, key, kString, (const uint8_t *)text, (uint32_t)strlen(text) + 1);
		break;
	}
	case xsReferenceType:
		if (!xsmcIsInstanceOf(xsArg(2), xsArrayBufferPrototype))
			xsUnknownError("unsupported type");
		ok = set(domain, key, kBuffer, xsmcToArrayBuffer(xsArg(2)), xsmcGetArrayBufferLength(xsArg(2)));
		break;
	default:
		xsUnknownError("unsupported type");
	}
	if (!ok)
		xsUnknownError("can't save prefs");
}

void xs_preference_get(xsMachine *the)
{
	uint32_t at = find(xsmcToString(xsArg(0)), xsmcToString(xsArg(1)));
	if (!at)
		return;
	const uint8_t *p = gSector + at;
	p += strlen((const char *)p) + 1;
	p += strlen((const char *)p) + 1;
	int32_t integer;
	switch (*p++) {
	case kBoolean:
		xsmcSetBoolean(xsResult, *p);
		break;
	case kInteger:
		memcpy(&integer, p, 4);
		xsmcSetInteger(xsResult, integer);
		break;
	case kString:
		xsmcSetString(xsResult, (char *)p);
		break;
	case kBuffer:
		xsmcSetArrayBuffer(xsResult, (void *)(p + 2), p[0] | (p[1] << 8));
		break;
	}
}

void xs_preference_delete(xsMachine *the)
{
	uint32_t at = find(xsmcToString(xsArg(0)), xsmcToString(xsArg(1)));
	if (!at)
		return;
	erase(at);
	save();
}

void xs_preference_keys(xsMachine *the)
{
	char domain[MAX_NAME + 1];
	if (strlen(xsmcToString(xsArg(0))) > MAX_NAME)
		xsUnknownError("too long");
	strcpy(domain, xsmcToString(xsArg(0)));
	xsmcVars(1);
	xsResult = xsNewArray(0);
	uint32_t at = SIGNATURE;
	while (at < gEnd) {
		if (!gSector[at]) {
			at++;
			continue;
		}
		const char *d = (const char *)gSector + at;
		if (!strcmp(d, domain)) {
			xsmcSetString(xsVar(0), (char *)(d + strlen(d) + 1));
			xsCall1(xsResult, xsID("push"), xsVar(0));
		}
		at += recordSize(at);
	}
}
