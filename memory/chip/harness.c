/*
 * The chip-true memory check's host program (scripts/chip-memory.mjs builds and drives it).
 *
 * It replaces the GTK simulator (mcsim, 64-bit) with a 32-bit Linux program that runs the firmware as
 * an ESP8266 does, as far as the XS heap goes:
 *   - slots are 16 bytes and chunk headers 8 (a -m32 build, as on the 32-bit Xtensa);
 *   - the whole VM (slots, chunks and the stack) comes from ONE static block of --heap bytes, never
 *     more: chunks grow up from its start, the stack and then the slots grow down from its end, and
 *     when slots run out the chunks are compacted and the freed top of the chunk area goes to the
 *     slots; when neither fits, XS aborts "not enough memory", as the chip would (and reboot).
 *   - Preference records live outside the XS heap, with the chip's limits (preference.c), and the
 *     Wi-Fi radio is native too (wifi.c), as on the chip: neither costs JS heap here or there.
 * The rest (sockets, timers, the event loop) is the SDK's Linux platform on GLib's main loop.
 *
 * Every second it prints one line:
 *   chip: slots <live slots> chunks <live chunk bytes> stack <most stack slots used since the last line>
 *         block <chunk area + slot area reserved, bytes> of <block bytes> gc <collections since the last line>
 * On standard input, "live" forces a full collection and prints the live set as "chip-live: slots N
 * chunks N"; "quit" (or the end of input) ends it with "chip: end" and the peaks. An XS abort prints
 * what was thrown and "XS abort: <why>", and exits 3.
 *
 * A diagnostic: --stack N runs with an N-slot XS stack instead of the build's, to find the paths that
 * go deeper than N. A stack overflow prints, before its "XS abort", the JS frames it happened under,
 * innermost first, a line each: "chip-frame: <stack slots used at that frame> <function name> (<argc>)"
 * (these depths are exact, pushes included, where the "stack" samples see only returning functions).
 *
 *   plug-chip --heap 32768 [--prefs FILE] [--stack N]
 */

#include "xsAll.h"
#include "mc.xs.h"
#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern void chipPreferenceOpen(const char *path);

/* ---- the static block ---- */

static uint8_t *gBlock = NULL;      /* start of the block */
static uint8_t *gBlockEnd = NULL;   /* one past its end */
static uint8_t *gChunkTop = NULL;   /* chunks use [gBlock, gChunkTop) */
static uint8_t *gSlotBottom = NULL; /* stack and slots use [gSlotBottom, gBlockEnd) */
static size_t gBlockSize = 32768;
static int gStackCount = 0; /* --stack: the XS stack in slots (0: the build's) */
static size_t gReservedPeak = 0;

static void notePeak(void)
{
	size_t reserved = (size_t)(gChunkTop - gBlock) + (size_t)(gBlockEnd - gSlotBottom);
	if (reserved > gReservedPeak)
		gReservedPeak = reserved;
}

void *fxAllocateChunks(txMachine *the, txSize size)
{
	txBlock *block = the->firstBlock;
	if (block) {
		/* grow the one chunk block in place: only the bytes beyond its free tail are new */
		txSize grow = size - sizeof(txBlock) - (block->limit - block->current);
		if (gChunkTop + grow > gSlotBottom)
			return NULL;
		gChunkTop += grow;
		/* fxGrowChunks appends `size` bytes at the returned address to the block */
		block->limit = (txByte *)gChunkTop - size;
		the->maximumChunksSize += grow - (size - sizeof(txBlock));
		notePeak();
		return block->limit;
	}
	if (gChunkTop + size > gSlotBottom)
		return NULL;
	void *at = gChunkTop;
	gChunkTop += size;
	notePeak();
	return at;
}

void fxFreeChunks(txMachine *the, void *chunks)
{
	/* the block goes with the process */
}

txSlot *fxAllocateSlots(txMachine *the, txSize count)
{
	size_t needed = (size_t)count * sizeof(txSlot);
	the->growHeapDirection = -1; /* new slots go below the ones the VM has */
	if (gSlotBottom - needed < gChunkTop && the->firstBlock) {
		/* no room: compact the chunks and give their free tail to the slots */
		fxCollect(the, XS_COMPACT_FLAG | XS_ORGANIC_FLAG);
		the->maximumChunksSize -= the->firstBlock->limit - the->firstBlock->current;
		gChunkTop = (uint8_t *)the->firstBlock->current;
		the->firstBlock->limit = the->firstBlock->current;
	}
	if (gSlotBottom - needed < gChunkTop)
		return NULL;
	gSlotBottom -= needed;
	notePeak();
	return (txSlot *)gSlotBottom;
}

void fxFreeSlots(txMachine *the, void *slots)
{
}

static void censusNow(txMachine *the);

/* ---- what the simulator's screen module provided ---- */

static int gAborting = 0;

/* the frames under a stack overflow, innermost first (the --stack diagnostic) */
static void printFrames(txMachine *the)
{
	printf("chip-frame: %d (the overflow)\n", (int)(the->stackTop - the->stack));
	for (txSlot *frame = the->frame; frame; frame = frame->next) {
		char name[128] = "";
		fxBufferFrameName(the, name, sizeof(name), frame, "");
		printf("chip-frame: %d %s (%d)\n", (int)(the->stackTop - frame), name, (int)frame->ID);
	}
}

void fxAbort(txMachine *the, int status)
{
	if (gAborting)
		return;
	gAborting = 1;
	if (XS_UNHANDLED_EXCEPTION_EXIT == status) {
		/* what was thrown, as String() gives it */
		mxTry(the) {
			mxPush(mxException);
			fxToString(the, the->stack);
			printf("XS exception: %s\n", the->stack->value.string);
			mxPop();
		}
		mxCatch(the) {
		}
	}
	if (XS_NOT_ENOUGH_MEMORY_EXIT == status) {
		/* where the block went: slots in use and free, the chunk area and what of it is in use */
		int freeSlots = 0;
		for (txSlot *slot = the->freeHeap; slot && freeSlots < 100000; slot = slot->next)
			freeSlots++;
		printf("chip: at abort slots %d in use, %d free (%u bytes with the stack); chunks %d bytes in use of %u\n",
			(int)the->currentHeapCount, freeSlots, (unsigned)(gBlockEnd - gSlotBottom), (int)the->currentChunksSize,
			(unsigned)(gChunkTop - gBlock));
		if (getenv("CHIP_CENSUS"))
			censusNow(the);
	}
	if (XS_JAVASCRIPT_STACK_OVERFLOW_EXIT == status)
		printFrames(the);
	printf("XS abort: %s\n", fxAbortString(status));
	fflush(stdout);
	exit(3);
}

/* ---- samples ---- */

static txMachine *gMachine = NULL;
static int32_t gPeakSlots = 0, gPeakChunks = 0, gPeakStack = 0;
static int32_t gGcLast = 0;

static int32_t stackUsed(txMachine *the)
{
	if (the->stackPeak > the->stack)
		the->stackPeak = the->stack;
	return (int32_t)(the->stackTop - the->stackPeak);
}

static gboolean sample(gpointer unused)
{
	txMachine *the = gMachine;
	int32_t slots = (int32_t)the->currentHeapCount;
	int32_t chunks = (int32_t)the->currentChunksSize;
	int32_t stack = stackUsed(the);
	int32_t gc = (int32_t)the->garbageCollectionCount;
	if ((int32_t)the->peakHeapCount > gPeakSlots) gPeakSlots = (int32_t)the->peakHeapCount;
	if ((int32_t)the->peakChunksSize > gPeakChunks) gPeakChunks = (int32_t)the->peakChunksSize;
	if (stack > gPeakStack) gPeakStack = stack;
	printf("chip: slots %d chunks %d stack %d block %u of %u gc %d\n", (int)slots, (int)chunks, (int)stack,
		(unsigned)((gChunkTop - gBlock) + (gBlockEnd - gSlotBottom)), (unsigned)gBlockSize, (int)(gc - gGcLast));
	fflush(stdout);
	gGcLast = gc;
	the->stackPeak = the->stack;
	return G_SOURCE_CONTINUE;
}

static gboolean live(gpointer unused)
{
	txMachine *the = gMachine;
	xsBeginHost(the);
	xsCollectGarbage();
	xsEndHost(the);
	printf("chip-live: slots %d chunks %d\n", (int)the->currentHeapCount, (int)the->currentChunksSize);
	fflush(stdout);
	return G_SOURCE_CONTINUE;
}

/* ---- census: where the live slots and chunks are, by what holds them (the "census" command) ---- */

#define CENSUS_MAX 400
typedef struct { char label[96]; int count; int slots; int bytes; } CensusRow;
static CensusRow gCensus[CENSUS_MAX];
static int gCensusRows = 0;
static uint8_t *gOwned = NULL; /* a bit per 16-byte slot of the block: taken by an instance's chain or free */

static int slotIndex(txSlot *slot) { return (int)(((uint8_t *)slot - gBlock) / sizeof(txSlot)); }
static int inBlock(txSlot *slot) { return (uint8_t *)slot >= gBlock && (uint8_t *)slot < gBlockEnd; }
static int owned(txSlot *slot) { int i = slotIndex(slot); return (gOwned[i >> 3] >> (i & 7)) & 1; }
static void own(txSlot *slot) { int i = slotIndex(slot); gOwned[i >> 3] |= (uint8_t)(1 << (i & 7)); }

static int chunkOf(void *data)
{
	if (!data || (uint8_t *)data < gBlock || (uint8_t *)data >= gChunkTop)
		return 0;
	return (int)((txChunk *)((txByte *)data - sizeof(txChunk)))->size;
}

static int chunkBytes(txSlot *slot)
{
	switch (slot->kind) {
	case XS_STRING_KIND: return chunkOf(slot->value.string);
	case XS_BIGINT_KIND: return chunkOf(slot->value.bigint.data);
	case XS_ARGUMENTS_SLOPPY_KIND: case XS_ARGUMENTS_STRICT_KIND: case XS_ARRAY_KIND: case XS_STACK_KIND:
		return chunkOf(slot->value.array.address);
	case XS_ARRAY_BUFFER_KIND: return chunkOf(slot->value.arrayBuffer.address);
	case XS_CODE_KIND: return chunkOf(slot->value.code.address);
	case XS_HOST_KIND: return (slot->flag & XS_HOST_CHUNK_FLAG) ? chunkOf(slot->value.host.data) : 0;
	case XS_IDS_KIND: return chunkOf(slot->value.IDs);
	case XS_KEY_KIND: return chunkOf(slot->value.key.string);
	case XS_MAP_KIND: case XS_SET_KIND: return chunkOf(slot->value.table.address);
	default: return 0;
	}
}

static void tally(const char *label, int slots, int bytes)
{
	int i;
	for (i = 0; i < gCensusRows; i++)
		if (!strcmp(gCensus[i].label, label))
			break;
	if (i == gCensusRows) {
		if (gCensusRows == CENSUS_MAX)
			i = CENSUS_MAX - 1, label = "(other)";
		else
			gCensusRows++;
		snprintf(gCensus[i].label, sizeof(gCensus[i].label), "%s", label);
	}
	gCensus[i].count++;
	gCensus[i].slots += slots;
	gCensus[i].bytes += bytes;
}

static void appendKey(txMachine *the, char *label, size_t size, txID id)
{
	char *name = (id != XS_NO_ID && id > 0) ? fxGetKeyName(the, id) : NULL;
	size_t used = strlen(label);
	snprintf(label + used, size - used, "%s%s", label[used - 1] == '(' || label[used - 1] == '{' ? "" : ",", name ? name : "?");
}

static void labelInstance(txMachine *the, txSlot *instance, char *label, size_t size)
{
	txSlot *first = instance->next;
	if (mxIsFunction(instance)) {
		strcpy(label, "fn ");
		fxBufferFunctionName(the, label + 3, (txSize)(size - 3), instance, "");
		if (first->kind == XS_CODE_KIND || first->kind == XS_CODE_X_KIND) {
			if (first->kind == XS_CODE_KIND)
				strncat(label, " (code in RAM)", size - strlen(label) - 1);
			txSlot *env = first->value.code.closures;
			if (env && inBlock(env)) {
				strncat(label, " env(", size - strlen(label) - 1);
				int n = 0;
				for (txSlot *p = env->next; p && n < 4; p = p->next) {
					if (p->flag & XS_INTERNAL_FLAG)
						continue;
					appendKey(the, label, size, p->ID);
					n++;
				}
				strncat(label, ")", size - strlen(label) - 1);
			}
		}
		return;
	}
	if (first && first->kind == XS_CLOSURE_KIND) {
		strcpy(label, "env(");
		int n = 0;
		for (txSlot *p = first; p && n < 6; p = p->next, n++)
			appendKey(the, label, size, p->ID);
		strncat(label, ")", size - strlen(label) - 1);
		return;
	}
	txSlot *prototype = instance->value.instance.prototype;
	if (prototype) {
		for (txSlot *p = prototype->next; p; p = p->next) {
			if (p->ID == mxID(_constructor) && p->kind == XS_REFERENCE_KIND && mxIsFunction(p->value.reference)) {
				strcpy(label, "new ");
				fxBufferFunctionName(the, label + 4, (txSize)(size - 4), p->value.reference, "");
				if (first && first->kind == XS_ARRAY_BUFFER_KIND) {
					char bytes[24];
					snprintf(bytes, sizeof(bytes), " of %d B", chunkOf(first->value.arrayBuffer.address));
					strncat(label, bytes, size - strlen(label) - 1);
				}
				if (strcmp(label, "new Object") && strcmp(label, "new Array"))
					return;
				break;
			}
		}
	}
	else
		strcpy(label, "null-proto");
	if (first && (first->flag & XS_INTERNAL_FLAG)) {
		char kind[24];
		snprintf(kind, sizeof(kind), " [kind %d]", first->kind);
		strncat(label, kind, size - strlen(label) - 1);
		if (first->kind == XS_ARRAY_KIND) {
			snprintf(kind, sizeof(kind), " length %u", (unsigned)first->value.array.length);
			strncat(label, kind, size - strlen(label) - 1);
			return;
		}
		if (first->kind == XS_ARRAY_BUFFER_KIND) {
			snprintf(kind, sizeof(kind), " of %d B", chunkOf(first->value.arrayBuffer.address));
			strncat(label, kind, size - strlen(label) - 1);
			return;
		}
	}
	strncat(label, "{", size - strlen(label) - 1);
	int n = 0;
	for (txSlot *p = first; p && n < 4; p = p->next) {
		if (p->flag & XS_INTERNAL_FLAG)
			continue;
		appendKey(the, label, size, p->ID);
		n++;
	}
	strncat(label, "}", size - strlen(label) - 1);
}

static gboolean census(gpointer unused)
{
	txMachine *the = gMachine;
	xsBeginHost(the);
	xsCollectGarbage();
	xsEndHost(the);
	censusNow(the);
	return G_SOURCE_CONTINUE;
}

/* (at an abort for memory, as things are: the collector has just run) */
static void censusNow(txMachine *the)
{
	size_t bits = (size_t)(gBlockEnd - gBlock) / sizeof(txSlot) + 1;
	gOwned = calloc(bits / 8 + 1, 1);
	gCensusRows = 0;
	for (txSlot *slot = the->freeHeap; slot; slot = slot->next)
		if (inBlock(slot)) own(slot);
	char label[96];
	/* instances first: the instance, its chain of properties, the chunks they hold; an environment also its closures' value slots */
	for (txSlot *heap = the->firstHeap; heap; heap = heap->next) {
		for (txSlot *slot = heap + 1; slot < heap->value.reference; slot++) {
			if (owned(slot) || slot->kind != XS_INSTANCE_KIND)
				continue;
			labelInstance(the, slot, label, sizeof(label));
			int slots = 1, bytes = 0;
			own(slot);
			for (txSlot *p = slot->next; p; p = p->next) {
				if (!inBlock(p) || owned(p))
					break;
				own(p);
				slots++;
				bytes += chunkBytes(p);
				if (p->kind == XS_CLOSURE_KIND && p->value.closure && inBlock(p->value.closure) && !owned(p->value.closure)) {
					own(p->value.closure);
					slots++;
					bytes += chunkBytes(p->value.closure);
				}
			}
			tally(label, slots, bytes);
		}
	}
	for (txSlot *heap = the->firstHeap; heap; heap = heap->next) {
		for (txSlot *slot = heap + 1; slot < heap->value.reference; slot++) {
			if (owned(slot))
				continue;
			snprintf(label, sizeof(label), "loose slot kind %d", slot->kind);
			tally(label, 1, chunkBytes(slot));
		}
	}
	free(gOwned);
	/* sorted by bytes, largest first */
	for (int i = 0; i < gCensusRows; i++)
		for (int j = i + 1; j < gCensusRows; j++)
			if (gCensus[j].slots * 16 + gCensus[j].bytes > gCensus[i].slots * 16 + gCensus[i].bytes) {
				CensusRow t = gCensus[i]; gCensus[i] = gCensus[j]; gCensus[j] = t;
			}
	int totalSlots = 0, totalBytes = 0;
	for (int i = 0; i < gCensusRows; i++) {
		totalSlots += gCensus[i].slots;
		totalBytes += gCensus[i].bytes;
		printf("chip-census: %6d B %4d x %5d slots %6d chunk B  %s\n", gCensus[i].slots * (int)sizeof(txSlot) + gCensus[i].bytes,
			gCensus[i].count, gCensus[i].slots, gCensus[i].bytes, gCensus[i].label);
	}
	printf("chip-census: total %d slots %d chunk bytes (live: slots %d chunks %d; keys %d of %d)\n", totalSlots, totalBytes,
		(int)the->currentHeapCount, (int)the->currentChunksSize, (int)the->keyIndex, (int)the->keyCount);
	fflush(stdout);
}

static gboolean quit(gpointer loop)
{
	sample(NULL);
	printf("chip: end peak slots %d chunks %d stack %d reserved %u of %u\n", (int)gPeakSlots, (int)gPeakChunks, (int)gPeakStack,
		(unsigned)gReservedPeak, (unsigned)gBlockSize);
	fflush(stdout);
	g_main_loop_quit((GMainLoop *)loop);
	return G_SOURCE_REMOVE;
}

/* commands on standard input, a line each: "live" (the live set), "census" (the live set by what holds it), "quit" (the peaks, then exit); end of input quits */
static gboolean command(GIOChannel *channel, GIOCondition condition, gpointer loop)
{
	gchar *line = NULL;
	gsize length = 0;
	GIOStatus status = g_io_channel_read_line(channel, &line, &length, NULL, NULL);
	if (status == G_IO_STATUS_AGAIN)
		return G_SOURCE_CONTINUE;
	if (status != G_IO_STATUS_NORMAL || !line || !strncmp(line, "quit", 4)) {
		g_free(line);
		return quit(loop);
	}
	if (!strncmp(line, "live", 4))
		live(NULL);
	else if (!strncmp(line, "census", 6))
		census(NULL);
	g_free(line);
	return G_SOURCE_CONTINUE;
}

/* ---- start: the setup/ modules, then main (as the simulator and the device runtimes do) ---- */

static uint16_t gSetupPending = 0;

static void setupDone(txMachine *the)
{
	if (--gSetupPending)
		return;
	xsBeginHost(the);
	{
		xsVars(1);
		xsVar(0) = xsImportNow(((txPreparation *)xsPreparationAndCreation(NULL))->main);
		xsVar(0) = xsGet(xsVar(0), xsID("default"));
		if (xsTest(xsVar(0)) && xsIsInstanceOf(xsVar(0), xsFunctionPrototype))
			xsCallFunction0(xsVar(0), xsGlobal);
		xsCollectGarbage();
	}
	xsEndHost(the);
	printf("chip: main done, stack %d\n", (int)stackUsed(the));
	fflush(stdout);
}

int main(int argc, char **argv)
{
	const char *prefs = NULL;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--heap") && i + 1 < argc)
			gBlockSize = (size_t)strtoul(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "--prefs") && i + 1 < argc)
			prefs = argv[++i];
		else if (!strcmp(argv[i], "--stack") && i + 1 < argc)
			gStackCount = atoi(argv[++i]);
		else {
			fprintf(stderr, "usage: %s --heap BYTES [--prefs FILE] [--stack SLOTS]\n", argv[0]);
			return 2;
		}
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	chipPreferenceOpen(prefs);

	gBlock = aligned_alloc(16, (gBlockSize + 15) & ~(size_t)15);
	gBlockEnd = gBlock + gBlockSize;
	gChunkTop = gBlock;
	gSlotBottom = gBlockEnd;

	xsCreation *built;
	txPreparation *preparation = xsPreparationAndCreation(&built);
	xsCreation creation = *built;
	if (gStackCount > 0)
		creation.stackCount = gStackCount;
	printf("chip: block %u bytes, slot %u bytes, stack %d slots\n", (unsigned)gBlockSize, (unsigned)sizeof(txSlot), (int)creation.stackCount);
	txMachine *the = fxPrepareMachine(&creation, preparation, "plug", NULL, NULL);
	if (!the) {
		printf("XS abort: the machine does not fit in %u bytes\n", (unsigned)gBlockSize);
		return 3;
	}
	gMachine = the;

	GMainLoop *loop = g_main_loop_new(NULL, FALSE);
	GIOChannel *input = g_io_channel_unix_new(0);
	g_io_add_watch(input, G_IO_IN | G_IO_HUP | G_IO_ERR, command, loop);
	g_timeout_add(1000, sample, NULL);

	xsBeginHost(the);
	{
		xsVars(1);
		xsCollectGarbage();
		xsVar(0) = xsNewHostFunction((xsCallback)setupDone, 0);
		gSetupPending = 1;
		txInteger count = preparation->scriptCount;
		txScript *script = preparation->scripts;
		for (; count > 0; count--, script++) {
			if (c_strncmp(script->path, "setup/", 6))
				continue;
			char path[C_PATH_MAX];
			c_strcpy(path, script->path);
			char *dot = c_strchr(path, '.');
			if (dot)
				*dot = 0;
			xsResult = xsAwaitImport(path, XS_IMPORT_DEFAULT);
			if (xsTest(xsResult) && xsIsInstanceOf(xsResult, xsFunctionPrototype)) {
				gSetupPending += 1;
				xsCallFunction1(xsResult, xsGlobal, xsVar(0));
			}
		}
	}
	xsEndHost(the);
	setupDone(the);

	g_main_loop_run(loop);
	return 0;
}
