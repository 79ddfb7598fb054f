import { describe, expect, it } from "vitest";
import { hasThreshold, isLowStock, stockFigures } from "../../../shared/alerts/threshold.js";

const product = (total: number, available: number) => ({ total, assigned: total - available, available });

describe("L18 low-stock threshold", () => {
  it("when a count is set, then the product is low only below that many available licenses", () => {
    expect(isLowStock(product(100, 5), { count: 5 })).toBe(false);
    expect(isLowStock(product(100, 4), { count: 5 })).toBe(true);
  });

  it("when a share is set, then the product is low only below that share of its total", () => {
    expect(isLowStock(product(200, 20), { percent: 10 })).toBe(false); // exactly 10 %
    expect(isLowStock(product(200, 19), { percent: 10 })).toBe(true);
    expect(isLowStock(product(3, 1), { percent: 33.4 })).toBe(true); // 33.3 % < 33.4 %
  });

  it("when both are set, then crossing either one makes the product low", () => {
    expect(isLowStock(product(1000, 40), { percent: 5, count: 10 })).toBe(true); // 4 % < 5 %
    expect(isLowStock(product(50, 9), { percent: 5, count: 10 })).toBe(true); // 9 < 10, 18 % >= 5 %
    expect(isLowStock(product(1000, 60), { percent: 5, count: 10 })).toBe(false);
  });

  it("when the product is a self-service purchase (L10: admins cannot assign it), then it is never low", () => {
    expect(isLowStock({ ...product(1, 0), kind: "selfService" }, { count: 5 })).toBe(false);
    expect(isLowStock({ ...product(1, 0), kind: "paid" }, { count: 5 })).toBe(true);
  });

  it("when the product has no licenses at all, then it is never low (nothing to run out of)", () => {
    expect(isLowStock(product(0, 0), { count: 5, percent: 50 })).toBe(false);
  });

  it("when no threshold is set, then nothing is ever low", () => {
    expect(hasThreshold({})).toBe(false);
    expect(isLowStock(product(10, 0), {})).toBe(false);
    expect(hasThreshold({ count: 1 })).toBe(true);
  });

  it("when figures are reported, then they carry the counts, the share (one decimal) and the threshold", () => {
    expect(stockFigures(product(15, 4), { count: 5 })).toEqual({ total: 15, assigned: 11, available: 4, availablePercent: 26.7, threshold: { count: 5 } });
  });
});
