// A reader of prisma/schema.prisma just large enough for comparing it with the database: models and views,
// their fields (type, optional, list, @map, @db), @@id/@id, @@index (type, map, where) and @@map. No Prisma
// engine needed (none can be downloaded here).

export interface SchemaField { name: string; column: string; type: string; optional: boolean; list: boolean; db: string | null }
export interface SchemaIndex { columns: string[]; name: string | null; method: string; where: string | null }
export interface SchemaBlock { kind: "model" | "view"; name: string; relation: string; fields: SchemaField[]; primaryKey: string[]; indexes: SchemaIndex[] }

export function readSchema(text: string): SchemaBlock[] {
  const blocks: SchemaBlock[] = [];
  const blockRe = /^(model|view)\s+(\w+)\s*\{([\s\S]*?)^\}/gm;
  for (const m of text.matchAll(blockRe)) {
    const [, kind, name, body] = m as unknown as [string, "model" | "view", string, string];
    const lines = body.split("\n").map((l) => l.replace(/\/\/.*$/, "").trim()).filter((l) => l !== "");
    const fields: SchemaField[] = [];
    let relation = name;
    let primaryKey: string[] = [];
    const rawIndexes: { fields: string[]; args: string }[] = [];
    for (const line of lines) {
      if (line.startsWith("@@")) {
        const attr = /^@@(\w+)\((.*)\)$/.exec(line);
        if (!attr) throw new Error(`cannot read ${line}`);
        const [, what, args] = attr as unknown as [string, string, string];
        const list = /^\[([^\]]*)\]/.exec(args)?.[1]?.split(",").map((s) => s.trim()) ?? [];
        if (what === "map") relation = JSON.parse(args);
        else if (what === "id") primaryKey = list;
        else if (what === "index") rawIndexes.push({ fields: list, args });
        continue;
      }
      const f = /^(\w+)\s+(\w+)(\[\])?(\?)?\s*(.*)$/.exec(line);
      if (!f) throw new Error(`cannot read field ${line}`);
      const [, fieldName, type, list, optional, attrs] = f as unknown as [string, string, string, string | undefined, string | undefined, string];
      const column = /@map\("([^"]+)"\)/.exec(attrs)?.[1] ?? fieldName;
      fields.push({ name: fieldName, column, type, optional: optional === "?", list: list === "[]", db: /@db\.(\w+(\([^)]*\))?)/.exec(attrs)?.[1] ?? null });
      if (/@id\b/.test(attrs)) primaryKey = [fieldName];
    }
    const column = (field: string) => fields.find((x) => x.name === field)?.column ?? `?${field}`;
    blocks.push({
      kind,
      name,
      relation,
      fields,
      primaryKey: primaryKey.map(column),
      indexes: rawIndexes.map(({ fields: list, args }) => ({
        columns: list.map(column),
        name: /map:\s*"([^"]+)"/.exec(args)?.[1] ?? null,
        method: (/type:\s*(\w+)/.exec(args)?.[1] ?? "BTree").toLowerCase(),
        where: /where:\s*raw\("((?:[^"\\]|\\.)*)"\)/.exec(args)?.[1] ?? null,
      })),
    });
  }
  return blocks;
}

/** The PostgreSQL type (format_type) a field maps to. */
export function pgTypeOf(field: SchemaField): string {
  const base: Record<string, string> = { String: "text", Int: "integer", BigInt: "bigint", Boolean: "boolean", Json: "jsonb", Float: "double precision" };
  let type: string;
  if (field.type === "DateTime") {
    type = field.db === "Date" ? "date" : field.db?.startsWith("Timestamptz") ? `timestamp${/\(\d+\)/.exec(field.db)?.[0] ?? ""} with time zone` : "timestamp(3) without time zone";
  } else {
    type = base[field.type] ?? `?${field.type}`;
  }
  return field.list ? `${type}[]` : type;
}
