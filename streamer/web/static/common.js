// What the live page and the review page share: element lookup, HTML escaping, the API call (signed out → the
// sign-in form) and the sign-in itself (the token goes once to /ui/login, which keeps it in an HttpOnly cookie).
const $ = (id) => document.getElementById(id);
const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => ({"&":"&amp;","<":"&lt;",">":"&gt;",'"':"&quot;","'":"&#39;"}[c]));
async function api(path, options = {}) {
  const r = await fetch(path, {credentials: "same-origin", ...options});
  if (r.status === 401) { showLogin(); throw new Error("signed out"); }
  const body = r.headers.get("content-type")?.includes("json") ? await r.json() : null;
  if (!r.ok) throw new Error(body?.detail ?? r.statusText);
  return body;
}
function showLogin() { $("login").hidden = false; $("app").hidden = true; }
$("signin").onclick = async () => {
  const r = await fetch("/ui/login", {method: "POST", headers: {"Content-Type": "application/json"},
                                      body: JSON.stringify({token: $("token").value})});
  if (r.ok) { location.reload(); } else { $("loginmsg").textContent = "wrong token"; }
};
