import { describe, expect, it } from "vitest";
import { approximateIp, describeUserAgent } from "./user-agent.ts";

describe("describeUserAgent", () => {
  it.each([
    ["Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0", "Firefox on Linux"],
    [
      "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0 Safari/537.36 Edg/130.0",
      "Edge on Windows",
    ],
    [
      "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15",
      "Safari on macOS",
    ],
    [
      "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 Version/17.5 Mobile Safari/604.1",
      "Safari on iOS",
    ],
    [
      "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/156.0 Safari/537.36",
      "Headless Chrome on Linux",
    ],
    ["curl/8.5.0", "curl"],
    [undefined, "Unknown browser"],
  ])("%s", (ua, expected) => expect(describeUserAgent(ua)).toBe(expected));
});

describe("approximateIp", () => {
  it("zeroes the host part", () => {
    expect(approximateIp("203.0.113.77")).toBe("203.0.113.0");
    expect(approximateIp("::ffff:127.0.0.1")).toBe("127.0.0.0");
    expect(approximateIp("2001:db8:85a3:1:2:3:4:5")).toBe("2001:db8:85a3::");
    expect(approximateIp("2001:db8::1")).toBe("2001:db8:0::");
    expect(approximateIp("::1")).toBe("::1");
    expect(approximateIp(undefined)).toBeUndefined();
  });
});
