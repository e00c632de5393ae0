/** The production daemon I/O with a silent logger, for tests and benches whose subject does not depend on a fake clock, ids or timers. */
import { pino } from "pino";
import { type DaemonIo, productionDaemonIo } from "../../node/io/daemon-io.ts";

export const realIo: DaemonIo = productionDaemonIo(pino({ level: "silent" }));
