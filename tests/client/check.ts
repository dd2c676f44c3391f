// A platform's code against a client generated from the gateway's /openapi.json:
// `openapi-typescript target/openapi.json -o target/client/hookgate.d.ts` writes the
// types, openapi-fetch is the client, `tsc` checks this file (scripts/test.sh). Each
// `@ts-expect-error` is a rule the document states: if the document stopped saying it,
// the line would compile and tsc would fail on the unused directive.
import createClient from "openapi-fetch";
import type { components, paths } from "../../target/client/hookgate";

type Tenant = components["schemas"]["Tenant"];
type Webhook = components["schemas"]["Webhook"];

const gateway = createClient<paths>({
  baseUrl: "http://127.0.0.1:8080",
  headers: { Authorization: "Bearer <platform key>" },
});

export async function onboard(): Promise<[Tenant, Webhook]> {
  const tenant = await gateway.POST("/v1/tenants", {
    body: { id: "acme", name: "Acme", environment: "production" },
  });
  if (tenant.error) throw new Error(tenant.error.error.message);
  await gateway.POST("/v1/apps", { body: { id: "bob", name: "Bob's app" } });
  await gateway.POST("/v1/installations", { body: { tenant_id: "acme", app_id: "bob" } });
  const webhook = await gateway.POST("/v1/apps/{app}/webhooks", {
    params: { path: { app: "bob" } },
    body: { url: "https://hooks.example.com/bob", max_concurrency: 8, retry_policy: "hibob" },
  });
  if (webhook.error) throw new Error(`${webhook.error.error.code}: ${webhook.error.error.message}`);
  const published = await gateway.POST("/v1/events", {
    params: { header: { "Idempotency-Key": "hire-7" } },
    body: { type: "employee.created", tenant_id: "acme", data: { id: 7 } },
  });
  if (published.data) console.log(published.data.deliveries);
  const secret: string = webhook.data.secret;
  console.log(secret.length);
  return [tenant.data, webhook.data];
}

export async function rulesTheDocumentStates(): Promise<void> {
  // @ts-expect-error a tenant needs a name
  await gateway.POST("/v1/tenants", { body: { environment: "production" } });
  // @ts-expect-error a new webhook needs its url
  await gateway.POST("/v1/apps/{app}/webhooks", { params: { path: { app: "bob" } }, body: {} });
  // @ts-expect-error environments are production or development
  await gateway.POST("/v1/tenants", { body: { name: "Acme", environment: "staging" } });
  // @ts-expect-error unknown fields are refused
  const patch: components["schemas"]["UpdateTenant"] = { colour: "red" };
  await gateway.PATCH("/v1/tenants/{id}", { params: { path: { id: "acme" } }, body: patch });
  // @ts-expect-error an event type's example is an object or null, on PATCH too
  await gateway.PATCH("/v1/event-types/{name}", { params: { path: { name: "a.b" } }, body: { example: [1] } });
  // @ts-expect-error an attempt's outcome is one of a fixed set
  await gateway.GET("/v1/apps/{app}/webhooks/{id}/attempts", { params: { path: { app: "bob", id: "x" }, query: { outcome: "maybe" } } });
}
