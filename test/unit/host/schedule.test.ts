import { describe, expect, it } from "vitest";
import { defaultUseMonitor, normaliseNcrontab, parseSchedule } from "../../../local/host/schedule.js";
import { retryDelayMs } from "../../../local/host/timers.js";

const UTC = { timezone: "UTC" };
const at = (iso: string) => new Date(iso);

describe("NCRONTAB schedules", () => {
  it("computes the next occurrence strictly after a time, seconds first", () => {
    const s = parseSchedule("*/5 * * * * *", UTC);
    expect(s.next(at("2024-05-01T10:00:00.500Z")).toISOString()).toBe("2024-05-01T10:00:05.000Z");
    expect(s.next(at("2024-05-01T10:00:05.000Z")).toISOString()).toBe("2024-05-01T10:00:10.000Z");
    expect(parseSchedule("0 */5 * * * *", UTC).next(at("2024-05-01T10:01:00Z")).toISOString()).toBe("2024-05-01T10:05:00.000Z");
    expect(parseSchedule("0 30 9 * * 1-5", UTC).next(at("2024-05-04T00:00:00Z")).toISOString()).toBe("2024-05-06T09:30:00.000Z");
  });

  it("requires exactly six fields", () => {
    expect(() => parseSchedule("*/5 * * * *")).toThrow(/6 components/);
    expect(() => parseSchedule("0 0 * * * * 2024")).toThrow(/6 components/);
  });

  it("accepts names as NCRONTAB does (prefixes of English names)", () => {
    expect(normaliseNcrontab("0 30 9 * Jan Mon")).toBe("0 30 9 * 1 1");
    expect(normaliseNcrontab("0 0 0 * * sunday-sat")).toBe("0 0 0 * * 0-6");
    expect(parseSchedule("0 30 9 * Jan Mon", UTC).next(at("2024-05-01T00:00:00Z")).toISOString()).toBe("2025-01-06T09:30:00.000Z");
  });

  it("reads `n/step` as from n to the maximum", () => {
    expect(normaliseNcrontab("5/10 * * * * *")).toBe("5-59/10 * * * * *");
    expect(parseSchedule("5/20 * * * * *", UTC).next(at("2024-05-01T10:00:30Z")).toISOString()).toBe("2024-05-01T10:00:45.000Z");
  });

  it("requires both the day of month and the day of week to match (NCRONTAB, unlike Vixie cron)", () => {
    // Friday the 13th
    const s = parseSchedule("0 0 0 13 * 5", UTC);
    expect(s.next(at("2024-01-01T00:00:00Z")).toISOString()).toBe("2024-09-13T00:00:00.000Z");
  });

  it("rejects syntax NCRONTAB does not know", () => {
    for (const bad of ["0 0 0 L * *", "0 0 0 ? * *", "0 0 0 * * 5#2", "0 0 0 * * 7", "60 * * * * *", "0 0 24 * * *", "0 0 0 0 * *", "*/0 * * * * *"]) {
      expect(() => parseSchedule(bad), bad).toThrow();
    }
  });

  it("accepts a TimeSpan as a constant schedule", () => {
    const s = parseSchedule("00:00:30");
    expect(s.kind).toBe("constant");
    expect(s.next(at("2024-05-01T10:00:00Z")).toISOString()).toBe("2024-05-01T10:00:30.000Z");
    expect(parseSchedule("1.00:00:00").intervalMs).toBe(86_400_000);
    expect(() => parseSchedule("every minute")).toThrow(/not recognized/);
  });

  it("turns schedule monitoring off by default for sub-minute schedules", () => {
    expect(defaultUseMonitor(parseSchedule("*/1 * * * * *", UTC))).toBe(false);
    expect(defaultUseMonitor(parseSchedule("*/30 * * * * *", UTC))).toBe(false);
    expect(defaultUseMonitor(parseSchedule("0 * * * * *", UTC))).toBe(true);
    expect(defaultUseMonitor(parseSchedule("0 0 3 * * *", UTC))).toBe(true);
    expect(defaultUseMonitor(parseSchedule("00:00:30"))).toBe(false);
    expect(defaultUseMonitor(parseSchedule("00:05:00"))).toBe(true);
  });

  it("honours a time zone", () => {
    const s = parseSchedule("0 0 9 * * *", { timezone: "Europe/Paris" });
    expect(s.next(at("2024-07-01T00:00:00Z")).toISOString()).toBe("2024-07-01T07:00:00.000Z");
  });
});

describe("timer retry policies", () => {
  it("computes fixed and exponential delays", () => {
    expect(retryDelayMs({ retryStrategy: "fixedDelay", delayInterval: { seconds: 5 } }, 3)).toBe(5000);
    const exp = { retryStrategy: "exponentialBackoff" as const, minimumInterval: { seconds: 2 }, maximumInterval: { seconds: 10 } };
    expect([1, 2, 3, 4].map((n) => retryDelayMs(exp, n))).toEqual([2000, 4000, 8000, 10000]);
  });
});
