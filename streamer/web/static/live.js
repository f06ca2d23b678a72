// The live page (page.py); $, esc, api and the sign-in come from common.js.
async function cameras() {
  const rows = await api("/v1/cameras");
  $("cameras").tBodies[0].innerHTML = rows.map((c) => `<tr><td>${esc(c.id)}</td><td>${esc(c.state)}</td>
    <td>${c.fps.toFixed(1)}</td><td>${c.detected_fps.toFixed(1)}</td><td>${esc(c.owner ?? "—")}</td>
    <td><button data-watch="${esc(c.id)}">${document.getElementById("pv-" + c.id) ? "stop" : "watch"}</button></td></tr>`).join("");
  $("status").textContent = `${rows.length} camera(s)`;
}
document.addEventListener("click", (e) => {
  const id = e.target.dataset?.watch; if (!id) return;
  const open = document.getElementById("pv-" + id);
  if (open) { open.src = ""; open.remove(); e.target.textContent = "watch"; return; }
  const img = document.createElement("img");
  img.id = "pv-" + id; img.className = "preview"; img.alt = "preview of " + id;
  img.src = `/v1/cameras/${encodeURIComponent(id)}/preview.mjpg`;
  $("previews").append(img); e.target.textContent = "stop";
});
function breakdown(a) {
  return (a.breakdown || []).map((f) => `${esc(f.field)} ${esc(f.wanted)}: ${f.score == null ? "—" : (f.score * 100).toFixed(0) + "%"}
    <span class="muted">${(f.labels || []).slice(0, 3).map((l) => esc(l.label) + " " + (l.prob * 100).toFixed(0) + "%").join(", ")}</span>`).join("<br>");
}
function feed() {
  const source = new EventSource("/v1/alerts/events");
  source.onopen = () => { $("feedstate").textContent = "live"; };
  source.onerror = () => { $("feedstate").textContent = "reconnecting…"; };
  source.addEventListener("alert", (e) => {
    const a = JSON.parse(e.data);
    if (document.querySelector(`[data-alert="${a.alert_id}"]`)) return;
    const div = document.createElement("div");
    div.className = "alert"; div.dataset.alert = a.alert_id; div.dataset.entry = a.entry.id;
    div.innerHTML = `${a.snapshot_url ? `<img src="${esc(a.snapshot_url)}" alt="snapshot">` : ""}<div>
      <b>${esc(a.entry.id)}</b> on ${esc(a.camera_id)} — score ${(a.score * 100).toFixed(0)}%
      <span class="muted">${esc(new Date(a.captured_at).toLocaleTimeString())}</span><br>
      <span class="muted">${esc(a.entry.description)}</span><br>${breakdown(a)}</div>`;
    $("alerts").prepend(div);
  });
}
let parsed = null;
$("parse").onclick = async () => {
  parsed = await api("/v1/watchlist/parse", {method: "POST", headers: {"Content-Type": "application/json"},
                                              body: JSON.stringify({text: $("paste").value})});
  const rows = Object.entries(parsed.fields).map(([k, v]) => `<tr><th>${esc(k)}</th><td data-field="${esc(k)}">${esc(Array.isArray(v) ? v.join(", ") : v)}</td></tr>`);
  rows.push(`<tr><th>id</th><td><input id="entry-id" value="${esc(parsed.suggested_id)}"></td></tr>`);
  if (parsed.unplaced.length) rows.push(`<tr><th>not used</th><td class="muted">${esc(parsed.unplaced.join(" "))}</td></tr>`);
  for (const note of parsed.notes) rows.push(`<tr><th>note</th><td>${esc(note)}</td></tr>`);
  $("fields").innerHTML = rows.join(""); $("save").disabled = false; $("savemsg").textContent = "";
};
$("save").onclick = async () => {
  try {
    const entry = await api("/v1/watchlist/entries", {method: "POST", headers: {"Content-Type": "application/json"},
                            body: JSON.stringify({text: $("paste").value, id: $("entry-id").value})});
    $("savemsg").innerHTML = `<span class="ok" id="saved">saved entry ${esc(entry.id)}</span>`;
  } catch (e) { $("savemsg").innerHTML = `<span class="err">${esc(e.message)}</span>`; }
};
$("search").onclick = async () => {
  const q = new URLSearchParams();
  for (const [k, id] of [["color", "q-color"], ["make", "q-make"], ["camera", "q-camera"], ["time_of_day", "q-tod"]])
    if ($(id).value) q.set(k, $(id).value);
  try {
    const rows = await api("/v1/sightings?" + q);
    $("sightings").innerHTML = `<table>${rows.map((s) => `<tr class="sighting"><td>${s.has_snapshot ? `<img class="thumb" src="/v1/sightings/${encodeURIComponent(s.id)}/snapshot">` : ""}</td>
      <td>${esc(new Date(s.first_seen).toLocaleString())}<br>${esc(s.camera_id)} · ${esc(s.kind)}</td>
      <td>${esc([s.color, s.make, s.model, s.body_type].filter(Boolean).join(" "))}</td></tr>`).join("")}</table>
      <span class="muted">${rows.length} sighting(s)</span>`;
  } catch (e) { $("sightings").innerHTML = `<span class="err">${esc(e.message)}</span>`; }
};
(async () => {
  try { await cameras(); } catch (e) { return; }
  $("app").hidden = false; feed(); setInterval(cameras, 3000);
})();
