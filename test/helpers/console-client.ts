/** Logs in to a node agent's operator console over HTTP the way a browser form does, for tests that read its pages without a browser. */
import { CONSOLE_PREFIX } from "../../shared/constants.ts";

export interface ConsoleClient {
  /** The session cookie (`clawgate_session=…`) to send with every request. */
  readonly cookie: string;
  /** The session's CSRF token, for POST forms. */
  readonly csrf: string;
  get(path: string, init?: RequestInit): Promise<Response>;
  post(path: string, form: Record<string, string>): Promise<Response>;
}

/** GET the login form (login cookie + its CSRF token), POST the token, keep the session cookie. Throws when the login fails. */
export async function consoleLogin(baseUrl: string, token: string, fetchImpl: typeof fetch = fetch): Promise<ConsoleClient> {
  const form = await fetchImpl(`${baseUrl}${CONSOLE_PREFIX}/login`);
  const loginCookie = cookieOf(form, "clawgate_login");
  const loginCsrf = csrfOf(await form.text());
  const res = await fetchImpl(`${baseUrl}${CONSOLE_PREFIX}/login`, {
    method: "POST",
    redirect: "manual",
    headers: { cookie: loginCookie, "content-type": "application/x-www-form-urlencoded", origin: baseUrl },
    body: new URLSearchParams({ _csrf: loginCsrf, token }),
  });
  if (res.status !== 303) throw new Error(`console login failed: HTTP ${res.status}`);
  const cookie = cookieOf(res, "clawgate_session");
  const csrf = csrfOf(await (await fetchImpl(`${baseUrl}${CONSOLE_PREFIX}`, { headers: { cookie } })).text());
  return {
    cookie,
    csrf,
    get: (path, init = {}) => fetchImpl(`${baseUrl}${CONSOLE_PREFIX}${path}`, { redirect: "manual", ...init, headers: { cookie, ...(init.headers as Record<string, string>) } }),
    post: (path, fields) =>
      fetchImpl(`${baseUrl}${CONSOLE_PREFIX}${path}`, {
        method: "POST",
        redirect: "manual",
        headers: { cookie, "content-type": "application/x-www-form-urlencoded", origin: baseUrl },
        body: new URLSearchParams({ _csrf: csrf, ...fields }),
      }),
  };
}

function cookieOf(res: Response, name: string): string {
  const found = res.headers.getSetCookie().find((c) => c.startsWith(`${name}=`));
  if (!found) throw new Error(`no ${name} cookie in the answer (HTTP ${res.status})`);
  return found.split(";")[0]!;
}

function csrfOf(page: string): string {
  const m = /name="_csrf" value="([^"]+)"/.exec(page);
  if (!m) throw new Error("no CSRF token in the page");
  return m[1]!;
}
