// A small typed client for the JSON API (/api/items). Its types are
// generated from the API's OpenAPI document (internal/web/openapi.json) by
// openapi-typescript into openapi.d.ts (`make api-types`), so a change of
// the contract that this client does not follow fails `make test-frontend`
// (tsc --strict). Every failure, including a network error, becomes an
// ApiError carrying an RFC 9457 problem, so callers handle one shape.
import type { components, operations } from "./openapi";

type Schemas = components["schemas"];
export type Item = Schemas["Item"];
export type ItemInput = Schemas["ItemInput"];
export type FieldError = Schemas["FieldError"];
export type Problem = Schemas["Problem"];

/** The JSON body an operation answers with status, or undefined when it has none. */
type Answer<Op extends keyof operations, Status extends keyof operations[Op]["responses"]> =
  operations[Op]["responses"][Status] extends { content: { "application/json": infer Body } } ? Body : undefined;

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

export const items = {
  create: (input: ItemInput) => request<Answer<"createItem", 201>>("POST", "/api/items", { body: input }),
  get: (id: number) => request<Answer<"getItem", 200>>("GET", `/api/items/${id}`),
  remove: (id: number, version: number) =>
    request<Answer<"deleteItem", 204>>("DELETE", `/api/items/${id}`, { ifMatch: version }),
};
