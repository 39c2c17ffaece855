// Entry point of the Moddable build (mcconfig's "main" module): the firmware proper is in
// src/moddable/main.ts; Node runs src/host/main.ts instead.

import main from "./moddable/main.js";

main();
