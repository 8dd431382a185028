/** Reads the app's /metrics (Prometheus text format) for assertions. */

export interface Scrape {
  text: string;
  /** The sample's value, or 0 when the series has none yet (counters start absent). Labels must match exactly the ones given. */
  value(name: string, labels?: Record<string, string>): number;
}

export function parseMetrics(text: string): Scrape {
  const samples = new Map<string, number>();
  for (const line of text.split("\n")) {
    const match = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})?\s+(\S+)$/.exec(line);
    if (!match) continue;
    const labels = [...(match[2] ?? "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)]
      .map(([, k, v]) => `${k}=${v}`)
      .sort()
      .join(",");
    samples.set(`${match[1]}|${labels}`, Number(match[3]));
  }
  return {
    text,
    value(name, labels = {}) {
      const key = Object.entries(labels)
        .map(([k, v]) => `${k}=${v}`)
        .sort()
        .join(",");
      return samples.get(`${name}|${key}`) ?? 0;
    },
  };
}

/** GET /metrics at `url` (with a bearer token when given); throws unless 200. */
export async function scrape(url: string, token?: string): Promise<Scrape> {
  const response = await fetch(url, token ? { headers: { Authorization: `Bearer ${token}` } } : {});
  if (response.status !== 200) throw new Error(`GET ${url}: ${response.status}`);
  return parseMetrics(await response.text());
}
