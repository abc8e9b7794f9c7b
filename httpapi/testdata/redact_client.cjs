// Drives a cdrvault server with the real Vonage Redact client.
// Usage: node redact_client.cjs '{"host":"http://127.0.0.1:1234","key":"…","secret":"…","cases":[{"name":"…","params":{…}}]}'
// Prints one JSON line per case: {"name", "ok", "status", "body"}.
const { Redact, ProductType, Type } = require("@vonage/redact");

async function main() {
  const cfg = JSON.parse(process.argv[2]);
  const client = new Redact({ apiKey: cfg.key, apiSecret: cfg.secret }, { apiHost: cfg.host });
  for (const c of cfg.cases) {
    const params = { ...c.params };
    // "$SDK:SMS" and "$SDK:Outbound" select the SDK's own enum values.
    for (const k of ["product", "type"]) {
      const v = params[k];
      if (typeof v === "string" && v.startsWith("$SDK:")) {
        const name = v.slice(5);
        params[k] = k === "product" ? ProductType[name] : Type[name.toUpperCase()];
      }
    }
    const out = { name: c.name, ok: false, status: 0, body: null };
    try {
      await client.redactMessage(params);
      out.ok = true;
      out.status = 204;
    } catch (err) {
      if (err && err.response) {
        out.status = err.response.status;
        const text = await err.response.text();
        try { out.body = JSON.parse(text); } catch { out.body = text; }
        out.retryAfter = err.response.headers.get("retry-after");
      } else {
        out.body = String(err);
      }
    }
    process.stdout.write(JSON.stringify(out) + "\n");
  }
}

main().catch((e) => { console.error(e); process.exit(1); });
