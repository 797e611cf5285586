import { defineConfig } from "prisma/config";

// Prisma 7's CLI downloads its native schema engine at start-up, even for `generate`, and these machines
// (like many air-gapped installs) cannot. `generate` only needs the path to exist; pointing it at
// /bin/false makes any command that really needs the engine fail loudly. Migrations are applied by
// `contacts-sync migrate`, which needs no engine (src/db/migrate.ts).
process.env.PRISMA_SCHEMA_ENGINE_BINARY ??= "/bin/false";

export default defineConfig({
  schema: "prisma/schema.prisma",
  migrations: { path: "prisma/migrations" },
});
