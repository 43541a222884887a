// A small typed client for the JSON API (/api/items). Every failure,
// including a network error, becomes an ApiError carrying an RFC 9457
// problem, so callers handle one shape.

export interface Item {
  id: number;
  name: string;
  description: string;
  created_by: string;
  created_at: string;
  updated_by: string;
  updated_at: string;
  version: number;
}

export interface FieldError {
  field: string;
  message: string;
}

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail?: string;
  errors?: FieldError[];
  current_version?: number;
}

export class ApiError extends Error {
  constructor(readonly problem: Problem) {
    super(problem.detail || problem.title);
    this.name = "ApiError";
  }
  get status(): number {
    return this.problem.status;
  }
}

interface RequestOptions {
  body?: unknown;
  ifMatch?: number; // the item version the change is based on
}

async function request<T>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
  const headers: Record<string, string> = { Accept: "application/json" };
  if (opts.body !== undefined) headers["Content-Type"] = "application/json";
  if (opts.ifMatch !== undefined) headers["If-Match"] = `"${opts.ifMatch}"`;
  let res: Response;
  try {
    res = await fetch(path, {
      method,
      headers,
      body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
      credentials: "same-origin",
      // A sign-in proxy answers an expired session with a redirect to its
      // login page; following it cross-origin would only fail obscurely.
      redirect: "error",
    });
  } catch {
    throw new ApiError({
      type: "network",
      title: "Network error",
      status: 0,
      detail: "The server could not be reached, or your sign-in has expired. Reload the page and try again.",
    });
  }
  if (res.status === 204) return undefined as T;
  const json = (res.headers.get("Content-Type") || "").includes("json");
  const body: unknown = json ? await res.json().catch(() => undefined) : undefined;
  if (!res.ok) {
    const p = (body as Problem | undefined) ?? { type: "about:blank", title: res.statusText, status: res.status };
    throw new ApiError({ ...p, status: res.status });
  }
  return body as T;
}

export interface ItemInput {
  name: string;
  description: string;
}

export const items = {
  create: (input: ItemInput) => request<Item>("POST", "/api/items", { body: input }),
  get: (id: number) => request<Item>("GET", `/api/items/${id}`),
  remove: (id: number, version: number) => request<void>("DELETE", `/api/items/${id}`, { ifMatch: version }),
};
