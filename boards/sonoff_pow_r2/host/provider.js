// This board's ECMA-419 host provider (`embedded:provider/builtin`). The plug's pins are in
// ../manifest.json (`config.plug`), read by src/moddable/board.ts; nothing else is wired here.

import Digital from "embedded:io/digital";

const device = Object.freeze({
	io: Object.freeze({ Digital }),
	pin: Object.freeze({}),
});

export default device;
