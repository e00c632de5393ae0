/**
 * The local stack's demo agent: a `command` runtime that needs no network or model. It reads the run's
 * message on stdin and answers on stdout — `HEARTBEAT_OK` to a heartbeat (OpenClaw's acknowledgement),
 * else a one-line echo — so a wake through the edge visibly becomes a run in the node's run log.
 */
import { text } from "node:stream/consumers";

const message = await text(process.stdin);
const firstLine = message.split("\n").find((line) => line.trim() !== "") ?? "";
const isHeartbeat = process.env["CLAWGATE_SESSION_KEY"]?.endsWith(":main") === true || /heartbeat/i.test(message);
process.stdout.write(isHeartbeat ? "HEARTBEAT_OK\n" : `demo agent (${process.env["CLAWGATE_AGENT_ID"] ?? "?"}) got ${message.length} characters: ${firstLine.slice(0, 120)}\n`);
