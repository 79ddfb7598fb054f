/**
 * Microsoft's ids (objects, tenants, apps, SKUs, records) are GUIDs in the 8-4-4-4-12 form, any
 * case; not always RFC 4122 UUIDs (e.g. 00000007-0000-0000-c000-000000000000). One pattern for
 * every place that tests a string rather than parsing a schema (zod's `z.guid()` does that).
 * Spelled out without the `i` flag: a JSON Schema `pattern` (the OpenAPI document) carries no flags.
 */
export const GUID_PATTERN = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

export function isGuid(value: string): boolean {
  return GUID_PATTERN.test(value);
}
