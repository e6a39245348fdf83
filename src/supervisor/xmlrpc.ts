import type { Host } from "../host/host.js";

// The XML-RPC that supervisord speaks on its unix socket (POST /RPC2), in the
// subset it uses: no dependency, and no Python process per query.

export type XmlRpcValue = string | number | boolean | null | XmlRpcValue[] | { [key: string]: XmlRpcValue };

/** A fault answered by the server: code and string as sent. */
export class XmlRpcFault extends Error {
  override name = "XmlRpcFault";
  constructor(
    readonly faultCode: number,
    readonly faultString: string,
  ) {
    super(faultString);
  }
}

const escapeXml = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

function encodeValue(v: XmlRpcValue): string {
  if (v === null) return "<value><nil/></value>";
  if (typeof v === "string") return `<value><string>${escapeXml(v)}</string></value>`;
  if (typeof v === "boolean") return `<value><boolean>${v ? 1 : 0}</boolean></value>`;
  if (typeof v === "number") {
    if (!Number.isFinite(v)) throw new Error(`XML-RPC cannot encode ${v}`);
    return Number.isInteger(v) && Math.abs(v) <= 2 ** 31 - 1 ? `<value><int>${v}</int></value>` : `<value><double>${v}</double></value>`;
  }
  if (Array.isArray(v)) return `<value><array><data>${v.map(encodeValue).join("")}</data></array></value>`;
  const members = Object.entries(v).map(([k, x]) => `<member><name>${escapeXml(k)}</name>${encodeValue(x)}</member>`);
  return `<value><struct>${members.join("")}</struct></value>`;
}

/** The body of a methodCall. Pure. */
export function encodeMethodCall(method: string, params: readonly XmlRpcValue[] = []): string {
  if (!/^[A-Za-z0-9_.:/]+$/.test(method)) throw new Error(`invalid XML-RPC method name: ${JSON.stringify(method)}`);
  const ps = params.map((p) => `<param>${encodeValue(p)}</param>`).join("");
  return `<?xml version="1.0"?>\n<methodCall><methodName>${method}</methodName><params>${ps}</params></methodCall>\n`;
}

/** Element tree of the subset of XML an XML-RPC response holds (no attributes are used, none are kept). */
interface Element {
  name: string;
  children: Element[];
  text: string;
}

function decodeEntities(s: string): string {
  return s.replace(/&(#x[0-9a-fA-F]+|#\d+|lt|gt|amp|quot|apos);/g, (_, e: string) => {
    if (e[0] === "#") return String.fromCodePoint(e[1] === "x" ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10));
    return ({ lt: "<", gt: ">", amp: "&", quot: '"', apos: "'" } as Record<string, string>)[e]!;
  });
}

function parseXml(xml: string): Element {
  const root: Element = { name: "#root", children: [], text: "" };
  const stack = [root];
  const token = /<!\[CDATA\[([\s\S]*?)\]\]>|<\?[\s\S]*?\?>|<!--[\s\S]*?-->|<!DOCTYPE[^>]*>|<(\/?)([A-Za-z_][\w.:-]*)[^>]*?(\/?)>|([^<]+)/g;
  let m: RegExpExecArray | null;
  let at = 0;
  while ((m = token.exec(xml)) !== null) {
    if (m.index !== at) throw new Error(`malformed XML near ${JSON.stringify(xml.slice(at, at + 40))}`);
    at = token.lastIndex;
    const top = stack[stack.length - 1]!;
    if (m[1] !== undefined) top.text += m[1];
    else if (m[5] !== undefined) top.text += decodeEntities(m[5]);
    else if (m[3] !== undefined) {
      if (m[2] === "/") {
        if (top.name !== m[3]) throw new Error(`malformed XML: </${m[3]}> closes <${top.name}>`);
        stack.pop();
      } else {
        const el: Element = { name: m[3], children: [], text: "" };
        top.children.push(el);
        if (m[4] !== "/") stack.push(el);
      }
    }
  }
  if (at !== xml.length) throw new Error(`malformed XML near ${JSON.stringify(xml.slice(at, at + 40))}`);
  if (stack.length !== 1) throw new Error(`malformed XML: <${stack[stack.length - 1]!.name}> is never closed`);
  return root;
}

function child(el: Element, name: string): Element {
  const c = el.children.find((x) => x.name === name);
  if (!c) throw new Error(`XML-RPC: <${el.name}> has no <${name}>`);
  return c;
}

function decodeValue(value: Element): XmlRpcValue {
  const [typed] = value.children;
  if (!typed) return value.text; // <value>text</value> is a string
  switch (typed.name) {
    case "string":
      return typed.text;
    case "int":
    case "i4":
    case "i8": {
      const n = Number(typed.text.trim());
      if (!Number.isInteger(n)) throw new Error(`XML-RPC: bad <${typed.name}> ${JSON.stringify(typed.text)}`);
      return n;
    }
    case "double": {
      const n = Number(typed.text.trim());
      if (typed.text.trim() === "" || Number.isNaN(n)) throw new Error(`XML-RPC: bad <double> ${JSON.stringify(typed.text)}`);
      return n;
    }
    case "boolean": {
      const t = typed.text.trim();
      if (t !== "0" && t !== "1") throw new Error(`XML-RPC: bad <boolean> ${JSON.stringify(typed.text)}`);
      return t === "1";
    }
    case "nil":
      return null;
    case "dateTime.iso8601":
      return typed.text.trim();
    case "base64":
      return Buffer.from(typed.text.replace(/\s+/g, ""), "base64").toString("utf8");
    case "array":
      return child(typed, "data").children.filter((c) => c.name === "value").map(decodeValue);
    case "struct": {
      const out: Record<string, XmlRpcValue> = {};
      for (const m of typed.children.filter((c) => c.name === "member")) out[child(m, "name").text] = decodeValue(child(m, "value"));
      return out;
    }
    default:
      throw new Error(`XML-RPC: unknown value type <${typed.name}>`);
  }
}

/**
 * The value of a methodResponse; a <fault> is thrown as XmlRpcFault. Throws a
 * plain Error when the text is not an XML-RPC response. Pure.
 */
export function parseMethodResponse(xml: string): XmlRpcValue {
  const root = parseXml(xml);
  const response = child(root, "methodResponse");
  const fault = response.children.find((c) => c.name === "fault");
  if (fault) {
    const v = decodeValue(child(fault, "value"));
    const f = (v && typeof v === "object" && !Array.isArray(v) ? v : {}) as Record<string, XmlRpcValue>;
    throw new XmlRpcFault(Number(f.faultCode ?? 0), String(f.faultString ?? "unknown fault"));
  }
  const param = child(child(response, "params"), "param");
  return decodeValue(child(param, "value"));
}

/** Thrown when nothing answers on the socket (not there, refused, not HTTP). */
export class XmlRpcUnreachable extends Error {
  override name = "XmlRpcUnreachable";
}

/**
 * One call to the XML-RPC server on a unix socket of `host` (a connection of
 * its own, closed after the answer). Faults are XmlRpcFault; no answer at all
 * is XmlRpcUnreachable.
 */
export async function xmlRpcCall(host: Host, socketPath: string, method: string, params: readonly XmlRpcValue[] = [], timeoutMs = 60_000): Promise<XmlRpcValue> {
  const body = encodeMethodCall(method, params);
  let res;
  try {
    res = await host.httpPostUnix(socketPath, "/RPC2", { host: "localhost", contentType: "text/xml", body, timeoutMs });
  } catch (err) {
    throw new XmlRpcUnreachable(`${method}: ${(err as Error).message.replace(`${host.name}: `, "")}`, { cause: err });
  }
  if (res.status !== 200) throw new XmlRpcUnreachable(`${method}: HTTP ${res.status} ${res.body.slice(0, 200).trim()}`);
  return parseMethodResponse(res.body);
}
