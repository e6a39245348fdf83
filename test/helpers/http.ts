import { request } from "undici";

export interface Reply {
  status: number;
  body: string;
  headers: Record<string, string | string[] | undefined>;
}

/**
 * GET through nginx on 127.0.0.1 with a Host header: Node does not resolve
 * *.localhost, browsers and curl do.
 */
export async function get(port: number, host: string, path = "/", headers: Record<string, string> = {}): Promise<Reply> {
  const r = await request(`http://127.0.0.1:${port}${path}`, { headers: { host, ...headers }, headersTimeout: 15_000, bodyTimeout: 15_000 });
  return { status: r.statusCode, body: await r.body.text(), headers: r.headers };
}
