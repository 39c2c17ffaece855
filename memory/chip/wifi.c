/*
 * The Wi-Fi radio for the chip-true memory check: the natives of the SDK's generic `wifi` module
 * (modules/network/wifi/wifi.js, the one ESP8266 builds use), answered here without a radio and
 * without JS heap beyond what the device's own module costs:
 *   - connect({ssid, password}) reports "connect" then "gotIP" 100 ms apart to the one instance's
 *     callback; connect() with no argument (disconnect) reports "disconnect";
 *   - scan reports three networks, then null;
 *   - accessPoint() and mode only remember what they were told.
 * The simulator's own mock (modules/network/wifi/sim/wifi.js) is a JS class with a repeating timer:
 * on the chip that is all native, so it is not used here.
 */

#include "xs.h"
#include "mc.xs.h"
#include <glib.h>
#include <string.h>

static xsMachine *gThe = NULL;
static xsSlot gInstance; /* the WiFi instance with a callback, remembered while it has one */
static int gHaveInstance = 0;
static int gMode = 0;
static guint gPending = 0;

static void notify(const char *message)
{
	if (!gHaveInstance)
		return;
	xsBeginHost(gThe);
	{
		xsVars(1);
		xsVar(0) = xsGet(gInstance, xsID("callback"));
		if (xsTest(xsVar(0)))
			xsCallFunction1(xsVar(0), gInstance, xsString(message));
	}
	xsEndHost(gThe);
}

static gboolean gotIP(gpointer unused)
{
	gPending = 0;
	notify("gotIP");
	return G_SOURCE_REMOVE;
}

static gboolean connected(gpointer unused)
{
	notify("connect");
	gPending = g_timeout_add(100, gotIP, NULL);
	return G_SOURCE_REMOVE;
}

static gboolean disconnected(gpointer unused)
{
	gPending = 0;
	notify("disconnect");
	return G_SOURCE_REMOVE;
}

void xs_wifi_destructor(void *data)
{
}

void xs_wifi_constructor(xsMachine *the)
{
	int argc = xsToInteger(xsArgc);
	if (1 == argc)
		xsCall1(xsThis, xsID("build"), xsArg(0));
	else if (2 == argc)
		xsCall2(xsThis, xsID("build"), xsArg(0), xsArg(1));
}

void xs_wifi_close(xsMachine *the)
{
	if (gHaveInstance) {
		xsForget(gInstance);
		gHaveInstance = 0;
	}
}

void xs_wifi_set_onNotify(xsMachine *the)
{
	if (gHaveInstance) {
		xsForget(gInstance);
		gHaveInstance = 0;
	}
	xsSet(xsThis, xsID("callback"), xsArg(0));
	if (!xsTest(xsArg(0)))
		return;
	gThe = the;
	gInstance = xsThis;
	xsRemember(gInstance);
	gHaveInstance = 1;
}

void xs_wifi_set_mode(xsMachine *the)
{
	gMode = xsToInteger(xsArg(0));
}

void xs_wifi_get_mode(xsMachine *the)
{
	xsResult = xsInteger(gMode);
}

void xs_wifi_connect(xsMachine *the)
{
	if (gPending)
		g_source_remove(gPending);
	gPending = g_timeout_add(100, xsToInteger(xsArgc) > 0 ? connected : disconnected, NULL);
}

void xs_wifi_accessPoint(xsMachine *the)
{
	gMode |= 2;
}

/* the callback gets each network as an object, then null, all before scan returns on this radio */
void xs_wifi_scan(xsMachine *the)
{
	static const char *names[] = { "ChipCheckNet", "Neighbour", "Cafe" };
	static const char *auth[] = { "wpa2_psk", "wpa2_psk", "none" };
	static const int rssi[] = { -48, -71, -83 };
	xsVars(1);
	for (int i = 0; i < 3; i++) {
		xsVar(0) = xsNewObject();
		xsSet(xsVar(0), xsID("ssid"), xsString((char *)names[i]));
		xsSet(xsVar(0), xsID("authentication"), xsString((char *)auth[i]));
		xsSet(xsVar(0), xsID("rssi"), xsInteger(rssi[i]));
		xsSet(xsVar(0), xsID("channel"), xsInteger(1 + 5 * i));
		xsCallFunction1(xsArg(1), xsGlobal, xsVar(0));
	}
	xsCallFunction1(xsArg(1), xsGlobal, xsNull);
}
