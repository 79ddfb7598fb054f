/**
 * Microsoft's ids (objects, tenants, apps, SKUs, records) are GUIDs in the 8-4-4-4-12 form, any
 * case; not always RFC 4122 UUIDs (e.g. 00000007-0000-0000-c000-000000000000). One pattern for
 * every place that tests a string rather than parsing a schema (zod's `z.guid()` does that).
 */
export const GUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isGuid(value: string): boolean {
  return GUID_PATTERN.test(value);
}
