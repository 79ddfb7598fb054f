import { describe, expect, it } from "vitest";
import { checkWebhookUrl, isBlockedAddress, redactWebhookUrl } from "../../../shared/alerts/webhook-url.js";
import { alertSettingsBodySchema } from "../../../shared/alerts/settings.js";

describe("L18 webhook URL rules", () => {
  it("when the URL is public https, then it is accepted in Azure and locally", () => {
    expect(checkWebhookUrl("https://hooks.example.com/alerts?code=secret", "azure")).toBeUndefined();
    expect(checkWebhookUrl("https://hooks.example.com/alerts", "local")).toBeUndefined();
    expect(checkWebhookUrl("https://93.184.216.34/alerts", "azure")).toBeUndefined();
  });

  it("when the URL is plain http, then it is refused in Azure, and locally accepted only for a loopback receiver", () => {
    expect(checkWebhookUrl("http://hooks.example.com/alerts", "azure")).toBe("must be https");
    expect(checkWebhookUrl("http://127.0.0.1:8080/alerts", "azure")).toBe("must be https");
    expect(checkWebhookUrl("http://127.0.0.1:8080/alerts", "local")).toBeUndefined();
    expect(checkWebhookUrl("http://localhost:8080/alerts", "local")).toBeUndefined();
    expect(checkWebhookUrl("http://[::1]:8080/alerts", "local")).toBeUndefined();
    expect(checkWebhookUrl("http://hooks.example.com/alerts", "local")).toMatch(/https.*loopback/);
  });

  it("when the scheme is neither https nor http, then it is refused", () => {
    expect(checkWebhookUrl("ftp://hooks.example.com/x", "local")).toBe("must be https");
    expect(checkWebhookUrl("file:///etc/passwd", "azure")).toBe("must be https");
  });

  it("when an https URL names a loopback, private, link-local or platform address in Azure, then it is refused", () => {
    for (const url of [
      "https://127.0.0.1/x", "https://10.1.2.3/x", "https://172.20.0.1/x", "https://192.168.1.1/x", "https://169.254.169.254/metadata",
      "https://168.63.129.16/x", "https://100.64.0.1/x", "https://[::1]/x", "https://[fd00::1]/x", "https://[fe80::1]/x", "https://[::ffff:10.0.0.1]/x",
      "https://0.0.0.0/x",
    ]) {
      expect(checkWebhookUrl(url, "azure"), url).toMatch(/non-public|local one/);
    }
  });

  it("when an https URL names a local host name in Azure, then it is refused", () => {
    for (const url of ["https://localhost/x", "https://metadata.internal/x", "https://printer.local/x", "https://intranet/x"]) {
      expect(checkWebhookUrl(url, "azure"), url).toBe("must be a public host name, not a local one");
    }
  });

  it("when addresses are checked at delivery, then private ones (also IPv4-mapped) are blocked and public ones are not", () => {
    expect(isBlockedAddress("10.0.0.5")).toBe(true);
    expect(isBlockedAddress("::ffff:169.254.169.254")).toBe(true);
    expect(isBlockedAddress("fd12:3456::1")).toBe(true);
    expect(isBlockedAddress("8.8.8.8")).toBe(false);
    expect(isBlockedAddress("2606:4700:4700::1111")).toBe(false);
    expect(isBlockedAddress("not-an-address")).toBe(true);
  });

  it("when a URL is shown to a reader, then its path and query (which may hold a secret) are hidden", () => {
    expect(redactWebhookUrl("https://hooks.example.com/services/T000/B000/XXXX?code=secret")).toBe("https://hooks.example.com/…");
    expect(redactWebhookUrl(null)).toBeNull();
  });
});

describe("L18 alert settings body", () => {
  const issues = (body: unknown) => {
    const r = alertSettingsBodySchema.safeParse(body);
    return r.success ? [] : r.error.issues.map((i) => i.path.join("."));
  };

  it("when alerts are enabled without a webhook, then the webhookUrl field is named", () => {
    expect(issues({ enabled: true })).toEqual(["webhookUrl"]);
    expect(issues({ enabled: false })).toEqual([]);
  });

  it("when the webhook URL is too long, then the message says so (not that it is not absolute)", () => {
    const r = alertSettingsBodySchema.safeParse({ enabled: true, webhookUrl: `https://example.com/${"a".repeat(2100)}` });
    expect(r.success).toBe(false);
    expect(r.error?.issues.map((i) => i.message)).toEqual(["must be at most 2048 characters"]);
  });

  it("when the threshold is out of range or has unknown fields, then that field is named", () => {
    expect(issues({ enabled: false, lowStock: { percent: 0 } })).toEqual(["lowStock.percent"]);
    expect(issues({ enabled: false, lowStock: { percent: 100 } })).toEqual(["lowStock.percent"]);
    expect(issues({ enabled: false, lowStock: { count: 0 } })).toEqual(["lowStock.count"]);
    expect(issues({ enabled: false, lowStock: { count: 2.5 } })).toEqual(["lowStock.count"]);
    expect(issues({ enabled: false, lowStock: { share: 5 } })).toEqual(["lowStock"]);
    expect(issues({ enabled: false, lowStock: { percent: 12.5, count: 3 } })).toEqual([]);
  });

  it("when the webhook is not a URL, then webhookUrl is named", () => {
    expect(issues({ enabled: true, webhookUrl: "hooks.example.com" })).toEqual(["webhookUrl"]);
  });
});
