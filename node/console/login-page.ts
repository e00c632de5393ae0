/** The login page: paste the admin token once; the node answers with a session cookie that never holds the token. */
import { CONSOLE_PATH, type Html, html } from "./console-format.ts";
import { notice } from "./console-layout.ts";

export function loginMain(loginCsrf: string, error?: string): Html {
  return html`<div class="login">
<h1>Log in to this node</h1>
${error ? notice(error, "bad") : ""}
<section class="panel" aria-label="Log in">
<form method="post" action="${CONSOLE_PATH}/login">
  <input type="hidden" name="_csrf" value="${loginCsrf}">
  <label for="token">Admin token</label>
  <input id="token" name="token" type="password" autocomplete="off" required autofocus spellcheck="false">
  <button type="submit" class="primary">Log in</button>
</form>
<p>The token is in <code>&lt;state dir&gt;/admin.token</code> (a new one at every start), or use the gateway token. It is checked once; the browser keeps only a session cookie for this node.</p>
</section>
</div>`;
}
