// First start of Metabase (profile bi of docker-compose.yml): creates the admin account and connects the
// mirror as a data source, through Metabase's own setup API (the open-source edition has no config file).
// Does nothing once Metabase is set up. Node 20+ (fetch); settings from the environment:
//   MB_URL                 Metabase, e.g. http://metabase:3000
//   MB_ADMIN_EMAIL         the admin's e-mail (login)
//   MB_ADMIN_PASSWORD      the admin's password; unset: a random one, printed once in this container's log
//   MB_SOURCE_HOST, MB_SOURCE_PORT, MB_SOURCE_DB, MB_SOURCE_USER, MB_SOURCE_PASSWORD, MB_SOURCE_SCHEMA
//                          the mirror's PostgreSQL, the read-only login and the mirror's schema
import { randomBytes } from "node:crypto";

const env = process.env;
const base = (env.MB_URL ?? "http://metabase:3000").replace(/\/$/, "");

export function databasePayload(e = env) {
  return {
    engine: "postgres",
    name: "contacts-sync",
    details: {
      host: e.MB_SOURCE_HOST,
      port: Number(e.MB_SOURCE_PORT ?? 5432),
      dbname: e.MB_SOURCE_DB,
      user: e.MB_SOURCE_USER,
      password: e.MB_SOURCE_PASSWORD,
      ssl: false,
      // Only the mirror's schema: the bookkeeping of other schemas stays out of the data browser.
      "schema-filters-type": "inclusion",
      "schema-filters-patterns": e.MB_SOURCE_SCHEMA,
    },
  };
}

async function call(path, options = {}) {
  const response = await fetch(`${base}${path}`, { ...options, headers: { "content-type": "application/json", ...(options.headers ?? {}) } });
  const text = await response.text();
  if (!response.ok) throw new Error(`${options.method ?? "GET"} ${path}: HTTP ${response.status} ${text.slice(0, 300)}`);
  return text ? JSON.parse(text) : null;
}

export async function setup({ attempts = 120, delayMs = 5000 } = {}) {
  for (let i = 0; ; i++) {
    try {
      const health = await call("/api/health");
      if (health?.status === "ok") break;
    } catch {
      // not up yet
    }
    if (i + 1 >= attempts) throw new Error(`Metabase at ${base} did not become healthy`);
    await new Promise((resolve) => setTimeout(resolve, delayMs));
  }
  const properties = await call("/api/session/properties");
  const token = properties["setup-token"];
  if (properties["has-user-setup"] || !token) {
    console.log("Metabase is already set up; nothing to do.");
    return { done: false };
  }
  const password = env.MB_ADMIN_PASSWORD || randomBytes(18).toString("base64url");
  await call("/api/setup", {
    method: "POST",
    body: JSON.stringify({
      token,
      user: { first_name: "Admin", last_name: "contacts-sync", email: env.MB_ADMIN_EMAIL, password, site_name: "contacts-sync" },
      prefs: { site_name: "contacts-sync", site_locale: "en", allow_tracking: false },
      database: databasePayload(),
    }),
  });
  console.log(`Metabase is set up at ${base} with the data source "contacts-sync" (read-only login ${env.MB_SOURCE_USER}).`);
  if (!env.MB_ADMIN_PASSWORD) console.log(`Admin login: ${env.MB_ADMIN_EMAIL} / ${password}  (shown once: change it in Metabase)`);
  return { done: true };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  setup().catch((error) => {
    console.error(`Metabase setup failed: ${error.message}`);
    process.exit(1);
  });
}
