import type { Product } from "../licenses/model.js";
import type { LowStockThreshold } from "./settings.js";

/** The figures a low-stock alert reports (and the threshold it crossed). */
export interface StockFigures {
  total: number;
  assigned: number;
  available: number;
  /** available / total in percent, one decimal. */
  availablePercent: number;
  threshold: LowStockThreshold;
}

/**
 * L18: a product runs low when its available licenses drop below the set share of its total, or
 * below the set count (either rule; a threshold with neither never fires). Products without
 * licenses (total 0) are never "low": there is nothing to run out of; nor is a self-service purchase
 * (L10: a user bought it for themselves, admins cannot assign it - nothing they could act on).
 */
export function isLowStock(product: Pick<Product, "total" | "available"> & { kind?: Product["kind"] }, threshold: LowStockThreshold): boolean {
  if (product.total <= 0 || product.kind === "selfService") return false;
  if (threshold.count !== undefined && product.available < threshold.count) return true;
  if (threshold.percent !== undefined && product.available * 100 < threshold.percent * product.total) return true;
  return false;
}

export function hasThreshold(threshold: LowStockThreshold): boolean {
  return threshold.count !== undefined || threshold.percent !== undefined;
}

export function stockFigures(product: Pick<Product, "total" | "assigned" | "available">, threshold: LowStockThreshold): StockFigures {
  const availablePercent = product.total > 0 ? Math.round((product.available * 1000) / product.total) / 10 : 0;
  return { total: product.total, assigned: product.assigned, available: product.available, availablePercent, threshold };
}
