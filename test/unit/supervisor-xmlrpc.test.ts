import { createServer, type Server } from "node:http";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Duplex } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LocalHost } from "../../src/host/local.js";
import { commandsFromConfigInfo, programState, statesFromProcessInfo, SUPERVISOR_SOCKET, unixServerFile, updateActions } from "../../src/supervisor/ctl.js";
import { encodeMethodCall, parseMethodResponse, XmlRpcFault, xmlRpcCall } from "../../src/supervisor/xmlrpc.js";

// Captured from supervisord 4.2 (Debian 12) with xmlrpc.client's formatting.
const processInfo = `<?xml version='1.0'?>
<methodResponse>
<params>
<param>
<value><struct>
<member>
<name>name</name>
<value><string>app1-2026.11.23.01.57</string></value>
</member>
<member>
<name>group</name>
<value><string>app1-2026.11.23.01.57</string></value>
</member>
<member>
<name>state</name>
<value><int>20</int></value>
</member>
<member>
<name>statename</name>
<value><string>RUNNING</string></value>
</member>
<member>
<name>spawnerr</name>
<value><string></string></value>
</member>
<member>
<name>description</name>
<value><string>pid 24451, uptime 0:04:02</string></value>
</member>
</struct></value>
</param>
</params>
</methodResponse>
`;

const fault = (code: number, text: string) => `<?xml version='1.0'?>
<methodResponse>
<fault>
<value><struct>
<member>
<name>faultCode</name>
<value><int>${code}</int></value>
</member>
<member>
<name>faultString</name>
<value><string>${text}</string></value>
</member>
</struct></value>
</fault>
</methodResponse>
`;

describe("encodeMethodCall", () => {
  it("encodes strings (escaped), ints, doubles, booleans, nil, arrays and structs", () => {
    expect(encodeMethodCall("supervisor.startProcess", ["a<b>&c", true])).toBe(
      `<?xml version="1.0"?>\n<methodCall><methodName>supervisor.startProcess</methodName><params>` +
        `<param><value><string>a&lt;b&gt;&amp;c</string></value></param><param><value><boolean>1</boolean></value></param></params></methodCall>\n`,
    );
    expect(encodeMethodCall("m", [3, 1.5, null, [false, "x"], { k: 2 }])).toContain(
      "<value><int>3</int></value></param><param><value><double>1.5</double></value></param><param><value><nil/></value></param>" +
        "<param><value><array><data><value><boolean>0</boolean></value><value><string>x</string></value></data></array></value></param>" +
        "<param><value><struct><member><name>k</name><value><int>2</int></value></member></struct></value></param>",
    );
    expect(encodeMethodCall("supervisor.getAllProcessInfo")).toContain("<params></params>");
  });

  it("refuses a method name that could break the document, and numbers XML-RPC cannot carry", () => {
    expect(() => encodeMethodCall("a</methodName>")).toThrow(/invalid XML-RPC method name/);
    expect(() => encodeMethodCall("m", [NaN])).toThrow(/cannot encode/);
  });
});

describe("parseMethodResponse", () => {
  it("parses supervisord's struct answer", () => {
    expect(parseMethodResponse(processInfo)).toEqual({
      name: "app1-2026.11.23.01.57",
      group: "app1-2026.11.23.01.57",
      state: 20,
      statename: "RUNNING",
      spawnerr: "",
      description: "pid 24451, uptime 0:04:02",
    });
  });

  it("parses every value type, entities and CDATA, untyped values as strings", () => {
    const xml = `<?xml version="1.0"?><methodResponse><params><param><value><array><data>
      <value><i4>-7</i4></value><value><double>2.5</double></value><value><boolean>0</boolean></value>
      <value>plain &amp; &#x263A; &#65;</value><value><string><![CDATA[<raw>]]></string></value><value><nil/></value>
      <value><base64>aGk=</base64></value><value><dateTime.iso8601>20261123T04:00:00</dateTime.iso8601></value>
      <value><array><data></data></array></value><value><struct></struct></value><value></value>
    </data></array></value></param></params></methodResponse>`;
    expect(parseMethodResponse(xml)).toEqual([-7, 2.5, false, "plain & ☺ A", "<raw>", null, "hi", "20261123T04:00:00", [], {}, ""]);
  });

  it("parses reloadConfig's nested arrays", () => {
    const xml = `<methodResponse><params><param><value><array><data><value><array><data>
      <value><array><data><value><string>a</string></value></data></array></value>
      <value><array><data></data></array></value>
      <value><array><data><value><string>b</string></value></data></array></value>
      </data></array></value></data></array></value></param></params></methodResponse>`;
    expect(parseMethodResponse(xml)).toEqual([[["a"], [], ["b"]]]);
  });

  it("throws a fault with its code and string", () => {
    const err = (() => {
      try {
        parseMethodResponse(fault(10, "BAD_NAME: nope"));
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(XmlRpcFault);
    expect(err).toMatchObject({ faultCode: 10, faultString: "BAD_NAME: nope" });
  });

  it("refuses what is not an XML-RPC response", () => {
    expect(() => parseMethodResponse("<html><body>502</body></html>")).toThrow(/no <methodResponse>/);
    expect(() => parseMethodResponse("<methodResponse><params><param><value><int>1</value></param></params></methodResponse>")).toThrow(/malformed XML/);
    expect(() => parseMethodResponse("<methodResponse><params><param><value><int>x</int></value></param></params></methodResponse>")).toThrow(/bad <int>/);
    expect(() => parseMethodResponse("<methodResponse><params><param><value><weird/></value></param></params></methodResponse>")).toThrow(/unknown value type/);
    expect(() => parseMethodResponse("<methodResponse><params>")).toThrow(/never closed/);
  });
});

describe("supervisord answers", () => {
  it("names programs as supervisorctl does", () => {
    const m = statesFromProcessInfo([
      { name: "inst-2026.01.01.00.00", group: "inst-2026.01.01.00.00", statename: "RUNNING" },
      { name: "inst-2026.01.01.00.00-worker", group: "inst-2026.01.01.00.00-worker", statename: "STOPPED" },
      { name: "w_0", group: "pool", statename: "FATAL" },
    ]);
    expect([...m]).toEqual([
      ["inst-2026.01.01.00.00", "RUNNING"],
      ["inst-2026.01.01.00.00-worker", "STOPPED"],
      ["pool:w_0", "FATAL"],
    ]);
  });

  it("reads each program's command from a getAllConfigInfo answer", () => {
    const m = commandsFromConfigInfo([
      { name: "inst-2026.01.01.00.00-worker", group: "inst-2026.01.01.00.00-worker", command: "/srv/depl/inst/releases/2026.01.01.00.00/run-worker.sh", inuse: true },
      { name: "w_0", group: "pool", command: "/usr/bin/w" },
      { group: "nameless" },
    ]);
    expect([...m]).toEqual([
      ["inst-2026.01.01.00.00-worker", "/srv/depl/inst/releases/2026.01.01.00.00/run-worker.sh"],
      ["pool:w_0", "/usr/bin/w"],
    ]);
    expect(commandsFromConfigInfo("not a list").size).toBe(0);
  });

  it("plans supervisorctl update <group> from a reloadConfig answer", () => {
    expect(updateActions([[["p"], [], []]], "p")).toEqual(["add"]);
    expect(updateActions([[[], ["p"], []]], "p")).toEqual(["stop", "remove", "add"]);
    expect(updateActions([[[], [], ["p"]]], "p")).toEqual(["stop", "remove"]);
    expect(updateActions([[["q"], ["r"], ["s"]]], "p")).toEqual([]);
  });

  it("reads the socket from [unix_http_server] of supervisord.conf", () => {
    const conf = "[supervisord]\nfile=/not/this\n\n[unix_http_server]\nchmod=0700\nfile=/run/sv.sock   ; (the path)\n\n[supervisorctl]\nserverurl=unix:///x\n";
    expect(unixServerFile(conf)).toBe("/run/sv.sock");
    expect(unixServerFile("[inet_http_server]\nport=9001\n")).toBeNull();
  });
});

describe("XML-RPC over a unix socket", () => {
  const dir = mkdtempSync(join(tmpdir(), "depl-xmlrpc-"));
  const sock = join(dir, "sv.sock");
  let server: Server;
  const seen: string[] = [];

  beforeAll(async () => {
    server = createServer((req, res) => {
      let body = "";
      req.on("data", (d) => (body += d));
      req.on("end", () => {
        seen.push(`${req.method} ${req.url} ${req.headers["content-type"]} ${body}`);
        res.setHeader("content-type", "text/xml");
        if (body.includes("<string>nope</string>")) return res.end(fault(10, "BAD_NAME: nope"));
        if (body.includes("chunked")) {
          res.write(processInfo.slice(0, 100));
          setTimeout(() => res.end(processInfo.slice(100)), 20);
          return;
        }
        res.end(processInfo);
      });
    });
    await new Promise<void>((resolve) => server.listen(sock, resolve));
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it("POSTs the call to /RPC2 and parses the answer, also a chunked one", async () => {
    const host = new LocalHost();
    expect(await xmlRpcCall(host, sock, "supervisor.getProcessInfo", ["x"])).toMatchObject({ statename: "RUNNING" });
    expect(seen.at(-1)).toMatch(/^POST \/RPC2 text\/xml <\?xml/);
    expect(await xmlRpcCall(host, sock, "supervisor.getProcessInfo", ["chunked"])).toMatchObject({ statename: "RUNNING" });
    await expect(xmlRpcCall(host, sock, "supervisor.getProcessInfo", ["nope"])).rejects.toBeInstanceOf(XmlRpcFault);
  });

  /** This machine, except that supervisord's usual socket is missing and its conf says `conf`. */
  class Elsewhere extends LocalHost {
    constructor(private readonly conf: string | null) {
      super();
    }
    override connectUnix(path: string): Promise<Duplex> {
      return super.connectUnix(path === SUPERVISOR_SOCKET ? join(dir, "missing.sock") : path);
    }
    override async readFile(path: string): Promise<string | null> {
      return path.startsWith("/etc/supervisor") ? this.conf : super.readFile(path);
    }
  }

  it("finds the socket named in supervisord.conf; a BAD_NAME fault is ABSENT", async () => {
    const host = new Elsewhere(`[unix_http_server]\nfile=${sock}\n`);
    expect(await programState(host, "x")).toBe("RUNNING");
    expect(await programState(host, "nope")).toBe("ABSENT");
  });

  it("says once what to do when supervisord does not answer", async () => {
    const err = (await programState(new Elsewhere(null), "x").catch((e: Error) => e)) as Error;
    expect(err.message).toMatch(/^local: supervisord is not answering on \/var\/run\/supervisor\.sock: run depl setup \/ depl doctor \(.*ENOENT.*\)$/);
    expect(err.message).not.toContain("\n");
  });
});
