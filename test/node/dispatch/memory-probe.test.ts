/** Memory probe: parsing of captured /proc/meminfo and vm_stat output, and the probe factory per platform. */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { MemoryProbeError, createMemoryProbe, parseHwMemsize, parseProcMeminfo, parseVmStat } from "../../../node/dispatch/memory-probe.ts";

const fixture = (name: string) => readFileSync(new URL(`../../fixtures/dispatch/${name}`, import.meta.url), "utf8");
const GIB = 1024 ** 3;

describe("Linux /proc/meminfo", () => {
  it("reads MemAvailable and MemTotal (kB) from a capture of this build machine", () => {
    const s = parseProcMeminfo(fixture("proc-meminfo-linux.txt"));
    expect(s.totalGb).toBeCloseTo((24684096 * 1024) / GIB, 9);
    expect(s.availableGb).toBeCloseTo((23740552 * 1024) / GIB, 9);
  });

  it("falls back to MemFree + Buffers + Cached on kernels without MemAvailable", () => {
    const s = parseProcMeminfo("MemTotal: 1048576 kB\nMemFree: 262144 kB\nBuffers: 1024 kB\nCached: 261120 kB\n");
    expect(s.totalGb).toBe(1);
    expect(s.availableGb).toBe(0.5);
  });

  it("refuses output without MemTotal", () => {
    expect(() => parseProcMeminfo("MemFree: 1 kB\n")).toThrow(MemoryProbeError);
    expect(() => parseProcMeminfo("garbage")).toThrow(/MemTotal/);
  });

  it.runIf(process.platform === "linux")("the default probe reads the real /proc/meminfo", async () => {
    const s = await createMemoryProbe()();
    expect(s.totalGb).toBeGreaterThan(0.1);
    expect(s.availableGb).toBeGreaterThan(0);
    expect(s.availableGb).toBeLessThanOrEqual(s.totalGb);
  });
});

describe("macOS vm_stat + sysctl hw.memsize", () => {
  it("takes the page size from the header and adds free, inactive, speculative and purgeable pages", () => {
    const { availableBytes, pageSize } = parseVmStat(fixture("vm-stat-macos-m4.txt"));
    expect(pageSize).toBe(16384);
    expect(availableBytes).toBe((38112 + 719874 + 21547 + 9812) * 16384);
  });

  it("uses a 4096-byte page size when the header says so (Intel Macs)", () => {
    const intel = fixture("vm-stat-macos-m4.txt").replace("16384", "4096");
    expect(parseVmStat(intel).availableBytes).toBe((38112 + 719874 + 21547 + 9812) * 4096);
  });

  it("refuses output without the page size header or the free line", () => {
    expect(() => parseVmStat("Pages free: 1.\nPages inactive: 2.\n")).toThrow(/page size/);
    expect(() => parseVmStat("Mach Virtual Memory Statistics: (page size of 16384 bytes)\nPages inactive: 2.\n")).toThrow(/Pages free/);
  });

  it("parses hw.memsize and refuses anything but a byte count", () => {
    expect(parseHwMemsize(fixture("sysctl-hw-memsize-macos-m4.txt"))).toBe(36 * GIB);
    expect(() => parseHwMemsize("hw.memsize: 1")).toThrow(MemoryProbeError);
  });

  it("the darwin probe runs vm_stat every time and sysctl once, without a shell", async () => {
    const calls: string[] = [];
    const probe = createMemoryProbe({
      platform: "darwin",
      execFile: async (file, args) => {
        calls.push([file, ...args].join(" "));
        return file.endsWith("vm_stat") ? fixture("vm-stat-macos-m4.txt") : fixture("sysctl-hw-memsize-macos-m4.txt");
      },
    });
    const a = await probe();
    await probe();
    expect(a.totalGb).toBe(36);
    expect(a.availableGb).toBeCloseTo(((38112 + 719874 + 21547 + 9812) * 16384) / GIB, 9);
    expect(calls).toEqual(["/usr/bin/vm_stat", "/usr/sbin/sysctl -n hw.memsize", "/usr/bin/vm_stat"]);
  });

  it("a failing command becomes ERR_MEMORY_PROBE", async () => {
    const probe = createMemoryProbe({ platform: "darwin", execFile: async () => Promise.reject(new Error("ENOENT")) });
    await expect(probe()).rejects.toMatchObject({ code: "ERR_MEMORY_PROBE" });
  });
});

describe("createMemoryProbe", () => {
  it("refuses an unsupported platform at build time, naming it", () => {
    expect(() => createMemoryProbe({ platform: "win32" })).toThrow(/unsupported platform "win32"/);
  });

  it("an unreadable /proc/meminfo becomes ERR_MEMORY_PROBE", async () => {
    const probe = createMemoryProbe({ platform: "linux", readFile: (p) => readFileSync(`/nonexistent${p}`, "utf8") as never });
    await expect(probe()).rejects.toMatchObject({ code: "ERR_MEMORY_PROBE" });
  });
});
