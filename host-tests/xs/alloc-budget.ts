// The allocation budget of the XS engine check (host-tests/xs-engine.test.ts): CI has no Moddable
// SDK, so this is its guard that memory use does not silently grow. An ESP8266 runs the whole XS
// machine in one fixed 32 KB block; this measures the core in xsnap's XS instead (run-xsnap.mjs):
// a 64-bit build with a big heap, so the figures are not the chip's, but the same code allocates the
// same number of slots there, and the run is deterministic (the same numbers every run).
//
// The sequence is corpus.ts's BUDGET_SEQUENCE: an HS110 with every rule table full (32 schedule
// rules, 6 away rules, a countdown, each with a 32-byte name), then the measured requests.
// - `commands`: the slots each request allocates, garbage included (a slot is 16 bytes on the
//   ESP8266, 32 here). Chunks (string and byte-array bytes) are not in this figure: xsnap does not
//   report them per command.
// - `retained`: what the plug keeps live once its tables are full and the requests answered, after a
//   collection: slots, and bytes of xsnap's heap snapshot (slots at 32 bytes, plus chunks).
//
// Each budget is a measurement (in the comments) plus 10 %. Revised on 2026-12-04 with the chip-true
// run in docs/MEMORY.md ("2026-12-04"): answers are now streamed, walked twice (a size pass, then
// the write pass), so a request allocates more in all while its peak is far lower (the whole answer
// string and frame are gone); xsnap has no ArrayBuffer.fromString, so each string written is read
// code point by code point here, which the device does natively.
// `retained` lowered on 2026-12-05 with the chip-true runs in docs/MEMORY.md of that day: the plug's
// wiring, timers and sockets without closures made at run time (their code was copied to RAM).
// anti_theft.get_rules raised on 2026-12-05 with the away table from 4 rules to 5 (the chip-true run
// of that day in docs/MEMORY.md, "5 away rules"): the same per rule, for one more rule.
// The get_rules budgets and the update's raised on 2026-12-05 with the chip-true run of that day in
// docs/MEMORY.md ("Rules in flash"): the tables grew to 32 schedule and 6 away rules, and each rule
// is read from the settings at each pass instead of kept in the heap (a key and a check per read), so
// a request allocates more while the live set is 2 KB smaller.
// THE BUDGET IS REVISED ONLY TOGETHER WITH A CHIP-TRUE RUN RECORDED IN docs/MEMORY.md
// (`npm run sim:memory`, or a run on an ESP8266): raising it without one lets growth through unseen,
// and lowering it after a saving is welcome with the same record.

export const ALLOC_BUDGET = {
  /** The engine these were measured with (package.json pins @agoric/xsnap): another one re-measures. */
  engine: "xsnap 0.15.0 (XS 13.3.0)",
  /** Slots allocated per request, by corpus label. */
  commands: {
    "python-kasa update": { slots: 106_104 }, // measured 96,458 with rules read from the settings (in the heap, 20 and 5 rules: 55,488; before streaming: 29,708)
    "schedule.get_rules": { slots: 78_040 }, // measured 70,945 for 32 rules read from the settings (20 rules in the heap: 34,596; before streaming: 19,743)
    "anti_theft.get_rules": { slots: 12_937 }, // measured 11,761 for 6 rules read from the settings (5 rules in the heap: 8,620; 4 rules: 7,092; before streaming: 4,163)
    "count_down.get_rules": { slots: 1_720 }, // measured 1,564 (before streaming: 1,012)
  } as Record<string, { slots: number }>,
  /** Kept live by the plug after the sequence, against before its plug was made. */
  retained: {
    liveSlots: 681, // measured 619 (2026-12-04 before the closures and the timer targets: 1,264)
    snapshotBytes: 30_413, // measured 27,648 (before: 57,664)
  },
};
