/** The daemon's bind rule, shared by its start-up and the doctor: loopback addresses only. */
import { isIP } from "node:net";

/** True for 127.0.0.0/8 and ::1: the only addresses the daemon may listen on. */
export function isLoopbackAddress(host: string): boolean {
  if (isIP(host) === 4) return host.startsWith("127.");
  if (isIP(host) === 6) return host === "::1" || host === "0:0:0:0:0:0:0:1";
  return false;
}
