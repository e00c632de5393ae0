// The console's only script (served as a file, so the Content-Security-Policy needs no inline code): it refreshes
// the main part of a live page every few seconds while the tab is visible. Without it every page still works.
"use strict";
(function () {
  const main = document.querySelector("main[data-live]");
  const status = document.getElementById("live-status");
  if (!main) return;
  const every = Math.max(2000, Number(main.getAttribute("data-live")) || 5000);
  let stopped = false;
  let busy = false;
  const say = (text) => {
    if (status) status.textContent = text;
  };
  const typing = () => {
    const el = document.activeElement;
    return el && main.contains(el) && /^(INPUT|SELECT|TEXTAREA)$/.test(el.tagName);
  };
  async function refresh() {
    if (stopped || busy || document.hidden || typing()) return;
    busy = true;
    try {
      const res = await fetch(location.href, { headers: { "x-clawgate-fragment": "1" }, credentials: "same-origin", cache: "no-store", redirect: "error" });
      if (res.status === 401) {
        stopped = true;
        say("Signed out: reload to log in again");
        return;
      }
      if (!res.ok) {
        say("Update failed (HTTP " + res.status + "); retrying");
        return;
      }
      const text = await res.text();
      if (!typing()) main.innerHTML = text;
      say("Live · updated " + new Date().toISOString().slice(11, 19) + " UTC");
    } catch (e) {
      say("Node not answering; retrying");
    } finally {
      busy = false;
    }
  }
  say("Live · every " + every / 1000 + " s");
  setInterval(refresh, every);
  document.addEventListener("visibilitychange", () => {
    if (!document.hidden) refresh();
  });
})();
