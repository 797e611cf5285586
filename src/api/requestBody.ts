// The documented body of POST /inbox/users. The docs mark every field required, so unused filters are
// sent empty; a date filter only takes effect when its name is listed in `applicableFilters`.

export interface DateRange {
  /** Lower bound as sent (startAt); null = open. */
  from: Date | null;
  /** Upper bound as sent (endsAt); null = open. */
  to: Date | null;
}

export interface InboxQuery {
  lastSeenAt?: DateRange;
  createdAt?: DateRange;
}

const EMPTY_BODY = {
  searchText: "",
  tags: [] as unknown[],
  status: [] as unknown[],
  isOnline: false,
  _botWebsite: [] as unknown[],
  _botWhatsapp: [] as unknown[],
  _botTelegram: [] as unknown[],
  _botFacebook: [] as unknown[],
  _agentAssigned: [] as unknown[],
  segments: [] as unknown[],
  applicableFilters: [] as string[],
  lastSeenAt: { startAt: "", endsAt: "" },
  createdAt: { startAt: "", endsAt: "" },
  userInteracted: false,
  lastMessageBy: [] as unknown[],
  isLiveChatActive: false,
  hasOrdered: { status: false, lastAt: "" } as unknown,
  page: 1,
  isExport: "none",
  isContact: true,
};

export type InboxRequestBody = typeof EMPTY_BODY;

/**
 * Bounds are sent exactly as given. Whether the API treats them as inclusive is not documented: the
 * planner (sync/seek.ts) chooses bounds that cover what it needs under either reading.
 */
function range(r: DateRange): { startAt: string; endsAt: string } {
  return { startAt: r.from ? r.from.toISOString() : "", endsAt: r.to ? r.to.toISOString() : "" };
}

export function buildRequestBody(query: InboxQuery, page: number, filters: Record<string, unknown>): InboxRequestBody {
  const body: InboxRequestBody = { ...EMPTY_BODY, ...filters, applicableFilters: [], page } as InboxRequestBody;
  // A user filter takes effect when listed, like the date filters; empty values stay unlisted.
  for (const [name, value] of Object.entries(filters)) {
    const empty = value === "" || value === false || (Array.isArray(value) && value.length === 0);
    if (!empty) body.applicableFilters.push(name);
  }
  if (query.lastSeenAt) {
    body.lastSeenAt = range(query.lastSeenAt);
    body.applicableFilters.push("lastSeenAt");
  }
  if (query.createdAt) {
    body.createdAt = range(query.createdAt);
    body.applicableFilters.push("createdAt");
  }
  return body;
}

