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
  return getVia("127.0.0.1", port, host, path, headers);
}

/** GET through nginx on ::1, where Chromium connects first for *.localhost. */
export async function get6(port: number, host: string, path = "/", headers: Record<string, string> = {}): Promise<Reply> {
  return getVia("::1", port, host, path, headers);
}

/** GET to one address (IPv4, or IPv6 without brackets) with a Host header. */
export async function getVia(address: string, port: number, host: string, path = "/", headers: Record<string, string> = {}): Promise<Reply> {
  const authority = address.includes(":") ? `[${address}]` : address;
  const r = await request(`http://${authority}:${port}${path}`, { headers: { host, ...headers }, headersTimeout: 15_000, bodyTimeout: 15_000 });
  return { status: r.statusCode, body: await r.body.text(), headers: r.headers };
}
