// The review page: a camera's recent vehicles one at a time, labelled from the keyboard (see review.html's key list).
// $, esc, api and the sign-in come from common.js.
const FIELDS = ["make", "color", "body_type"];
const CANT_TELL = "unknown";
const JSON_POST = {method: "POST", headers: {"Content-Type": "application/json"}};
let items = [], index = 0, focusIdx = 0, values = {}, vocab = {};
const mine = [];  // ids of the labels made on this page, newest last: what "u" undoes

function say(text, cls = "ok") { $("msg").innerHTML = `<span class="${cls}" id="said">${esc(text)}</span>`; }
const camera = () => $("camera").value;
const alertMode = () => $("mode").value === "alert";
const rows = () => [...document.querySelectorAll("tr.field")];
const input = (f) => $("in-" + f);
const item = () => items[index];

function focusField(i) {
  focusIdx = (i + FIELDS.length) % FIELDS.length;
  rows().forEach((r, k) => r.classList.toggle("focus", k === focusIdx));
  rows()[focusIdx].focus();
}
const focused = () => FIELDS[focusIdx];

function paint() {
  const it = item();
  for (const f of FIELDS) {
    const row = document.querySelector(`tr.field[data-field="${f}"]`);
    const answer = it?.answers[f];
    row.querySelector(".answer").innerHTML = answer ? `${esc(answer.label)} <span class="prob">${(answer.prob * 100).toFixed(0)}%</span>` : '<span class="muted">—</span>';
    input(f).value = values[f] ?? "";
    row.classList.toggle("cant", values[f] === CANT_TELL);
    row.classList.toggle("changed", !!answer && values[f] !== answer.label && values[f] !== CANT_TELL);
    row.classList.toggle("inconflict", !!it?.conflicts.some((c) => c.field === f));
  }
}

function show() {
  const it = item();
  for (const el of document.querySelectorAll(".alert-only")) el.hidden = !alertMode();
  for (const el of document.querySelectorAll(".track-only")) el.hidden = alertMode();
  for (const f of FIELDS) $("wrong-" + f).checked = false;
  $("noun").textContent = alertMode() ? "Alert" : "Vehicle";
  $("position").textContent = items.length ? `${index + 1} / ${items.length}` : "";
  if (!it) {
    $("meta").textContent = "nothing to review on this camera"; $("view").removeAttribute("src");
    values = {}; $("conflict").hidden = true; $("labels").textContent = ""; paint(); return;
  }
  $("meta").textContent = `${it.camera_id} · ${new Date(it.first_seen).toLocaleString()} · ${it.kind}` +
    (it.track_id != null ? ` · track ${it.track_id}` : "") + (it.entry_id ? ` · entry ${it.entry_id}` : "");
  if (it.thumbnail_url) $("view").src = it.thumbnail_url; else $("view").removeAttribute("src");
  values = Object.fromEntries(FIELDS.map((f) => [f, it.answers[f]?.label ?? ""]));
  const who = Object.fromEntries(it.labels.map((l) => [l.id, l.labelled_by]));
  $("conflict").hidden = !it.conflicts.length;
  $("conflict").innerHTML = it.conflicts.map((c) => `<b>Conflict</b> on ${esc(c.field)}: ` +
    Object.entries(c.values).map(([v, ids]) => `${esc(v)} (${ids.map((i) => esc(who[i] ?? "#" + i)).join(", ")})`).join(" vs ") +
    " — labels disagree: not averaged, left out of the export until one is undone").join("<br>");
  $("labels").innerHTML = it.labels.length ? it.labels.map((l) => `<div class="label" data-label="${l.id}">#${l.id}
    ${esc(FIELDS.map((f) => l[f] ?? "—").join(" / "))}${l.verdict ? " · " + esc(l.verdict.replace("_", " ")) : ""}
    ${l.wrong_fields.length ? "(wrong: " + esc(l.wrong_fields.join(", ")) + ")" : ""}
    <span class="muted">by ${esc(l.labelled_by)}, ${esc(new Date(l.labelled_at).toLocaleString())}</span></div>`).join("") : "none yet";
  paint();
}

let loads = 0;  // a newer load (camera or mode changed meanwhile) wins over an older answer arriving late
async function load(keepId) {
  const q = new URLSearchParams({camera: camera(), kind: $("mode").value, limit: "100"});
  if ($("unlabelled").checked) q.set("unlabelled", "true");
  const ticket = ++loads;
  const found = await api("/v1/review/tracks?" + q);
  if (ticket !== loads) return;
  items = found;
  const at = items.findIndex((x) => x.sighting_id === keepId);
  index = at >= 0 ? at : Math.min(index, Math.max(items.length - 1, 0));
  $("status").textContent = `${items.length} to review`;
  show(); conflicts();
}
async function conflicts() {
  const found = await api("/v1/labels/conflicts?" + new URLSearchParams({camera: camera()}));
  $("conflicts").innerHTML = found.length ? found.map((c) => `<div class="conflict">${esc(c.field)} of ${esc(c.track)}: ` +
    Object.keys(c.values).map(esc).join(" vs ") + "</div>").join("") : "none";
}
function go(step) {
  if (!items.length) return;
  index = Math.min(Math.max(index + step, 0), items.length - 1); show(); focusField(focusIdx);
}

// Type-ahead: the exact label, else the one label the typed text begins (case-insensitive); empty: not given.
function complete(field, text) {
  const typed = text.trim().toLowerCase();
  if (!typed) return "";
  if (typed === CANT_TELL || typed === "?") return CANT_TELL;
  const known = vocab[field] ?? [];
  const exact = known.find((v) => v.toLowerCase() === typed);
  if (exact) return exact;
  const begins = known.filter((v) => v.toLowerCase().startsWith(typed));
  return begins.length === 1 ? begins[0] : null;
}
function startEdit() {
  const el = input(focused());
  el.dataset.before = values[focused()] ?? ""; el.tabIndex = 0; el.focus(); el.select();
}
function endEdit(el, keep) {
  const field = el.id.slice(3);
  if (keep) {
    const value = complete(field, el.value);
    if (value === null) { say(`unknown ${field} '${el.value}': pick one of the list (or 'unknown')`, "err"); return; }
    values[field] = value; say(`${field}: ${value || "not given"}`);
  }
  el.tabIndex = -1; paint(); focusField(FIELDS.indexOf(field));
}
function cantTell() {
  const f = focused(), answer = item()?.answers[f]?.label ?? "";
  values[f] = values[f] === CANT_TELL ? answer : CANT_TELL; paint();
}

async function send(extra) {
  const it = item(); if (!it) return;
  const body = {sighting_id: it.sighting_id, ...Object.fromEntries(FIELDS.map((f) => [f, values[f] || null])), ...extra};
  try {
    const label = await api("/v1/labels", {...JSON_POST, body: JSON.stringify(body)});
    mine.push(label.id);
    say(`saved label #${label.id}`);
    await load(items[index + 1]?.sighting_id ?? it.sighting_id);
  } catch (e) { say(e.message, "err"); }
  focusField(focusIdx);
}
const confirmAll = () => send({});
function verdict(which) {
  const it = item(); if (!it) return;
  const wrong = FIELDS.filter((f) => $("wrong-" + f).checked);
  if (which === "wrong_vehicle" && !wrong.length) { say("mark the wrong field(s) first (x on a field)", "err"); return; }
  // A field marked wrong is sent only when corrected: the service's answer is what was wrong.
  const fields = Object.fromEntries(wrong.filter((f) => values[f] === (it.answers[f]?.label ?? "")).map((f) => [f, null]));
  return send({verdict: which, wrong_fields: which === "wrong_vehicle" ? wrong : [], ...fields});
}
async function undoLast() {
  const id = mine.pop();
  if (id === undefined) { say("nothing of yours to undo on this page", "err"); return; }
  try {
    const label = await api(`/v1/labels/${id}/undo`, {method: "POST"});
    say(`undone label #${id}`);
    await load(label.sighting_id);
  } catch (e) { say(e.message, "err"); }
  focusField(focusIdx);
}

document.addEventListener("keydown", (e) => {
  if ($("app").hidden || e.ctrlKey || e.metaKey || e.altKey) return;
  const t = e.target;
  if (t.tagName === "INPUT" && t.id.startsWith("in-")) {
    if (e.key === "Enter") { e.preventDefault(); endEdit(t, true); }
    else if (e.key === "Escape") { e.preventDefault(); t.value = t.dataset.before ?? ""; endEdit(t, false); }
    return;
  }
  if (t.tagName === "SELECT" || (t.tagName === "INPUT" && t.type !== "checkbox")) return;
  if (t.tagName === "BUTTON" && (e.key === "Enter" || e.key === " ")) return;  // the button's own click
  const alerts = alertMode();
  const actions = {
    Enter: () => (alerts ? verdict("right_vehicle") : confirmAll()), y: () => (alerts ? verdict("right_vehicle") : confirmAll()),
    w: () => alerts && verdict("wrong_vehicle"),
    x: () => { if (alerts) { const box = $("wrong-" + focused()); box.checked = !box.checked; } },
    c: cantTell, e: startEdit, " ": startEdit, u: undoLast,
    Tab: () => focusField(focusIdx + (e.shiftKey ? -1 : 1)), ArrowDown: () => focusField(focusIdx + 1),
    ArrowUp: () => focusField(focusIdx - 1), n: () => go(1), ArrowRight: () => go(1), p: () => go(-1), ArrowLeft: () => go(-1),
  };
  const action = actions[e.key];
  if (action) { e.preventDefault(); action(); }
});
for (const f of FIELDS) input(f).addEventListener("blur", (e) => { if (e.target.tabIndex === 0) endEdit(e.target, true); });
rows().forEach((r, k) => r.addEventListener("click", () => focusField(k)));
$("confirm").onclick = confirmAll;
$("right").onclick = () => verdict("right_vehicle");
$("wrong").onclick = () => verdict("wrong_vehicle");
$("undo").onclick = undoLast;
$("next").onclick = () => go(1);
$("prev").onclick = () => go(-1);
for (const id of ["camera", "mode", "unlabelled"]) $(id).onchange = () => { index = 0; load().then(() => focusField(0)); };

function flatten(value, path, out) {
  if (value !== null && typeof value === "object") {
    for (const [k, v] of Object.entries(value)) flatten(v, path ? `${path}.${k}` : k, out);
  } else out.push([path, value]);
  return out;
}
function fig(f) {  // per-vehicle figures: right where named, and how often a value is named
  if (!f) return "—";
  if (f.named === undefined) return f.accuracy == null ? "—" : `${Math.round(100 * f.accuracy)}% right`;
  const right = f.named ? `${f.correct}/${f.named} right (${Math.round(100 * f.correct / f.named)}%)` : "none named";
  return `${right} · named ${f.named}/${f.vehicles}`;
}
function fieldsTable(fields) {
  const rows = Object.entries(fields).map(([name, f]) => `<tr data-report-field="${esc(name)}"><td>${esc(name)}</td>
    <td>${esc(f.method ?? "—")}</td><td>${esc(fig(f.before))}</td><td>${esc(fig(f.after))}</td>
    <td>${f.deployed ? '<b class="ok">deployed</b>' : "kept"}${f.reason ? `<div class="muted">${esc(f.reason)}</div>` : ""}</td></tr>`);
  return `<table class="figures"><tr><th>field</th><th>method</th><th>before</th><th>after (leave-one-vehicle-out)</th>
    <th></th></tr>${rows.join("")}</table>`;
}
function othersTable(others) {
  const rows = Object.entries(others).flatMap(([cam, fields]) => Object.entries(fields).map(([name, f]) =>
    `<tr><td>${esc(cam)}</td><td>${esc(name)}</td><td>${esc(fig(f))}</td></tr>`));
  return rows.length ? `<h3>Other cameras (unchanged: an adaptation is its camera's)</h3>
    <table class="figures"><tr><th>camera</th><th>field</th><th>figures</th></tr>${rows.join("")}</table>` : "";
}
function report(r, action) {
  const head = r.deployed === true ? `<b class="ok">Deployed ${esc(r.version ?? "")}</b>`
    : r.deployed === false ? `<b class="err">Not deployed</b>` : `<b>${esc(action)} done</b>`;
  let body;
  if (r.fields && typeof r.fields === "object") {
    const size = r.vehicles ? `<p class="muted">${esc(r.vehicles)} labelled vehicles, ${esc(r.labelled_views ?? 0)} views,
      ${esc((r.seconds ?? 0).toFixed ? r.seconds.toFixed(1) : r.seconds)} s</p>` : "";
    body = fieldsTable(r.fields) + othersTable(r.other_cameras ?? {}) + size;
  } else {  // a rollback's answer, or a shape this page does not know: every value
    const rest = Object.fromEntries(Object.entries(r).filter(([k]) => !["camera_id", "deployed", "version", "reason"].includes(k)));
    body = `<table>${flatten(rest, "", []).slice(0, 80).map(([k, v]) =>
      `<tr><td>${esc(k)}</td><td>${typeof v === "number" ? esc(Number.isInteger(v) ? v : v.toFixed(3)) : esc(v)}</td></tr>`).join("")}</table>`;
  }
  $("report").innerHTML = `<p id="report-head">${head}${r.reason ? ": " + esc(r.reason) : ""}</p>
    ${body}<details><summary>JSON</summary><pre>${esc(JSON.stringify(r, null, 2))}</pre></details>`;
}
async function adaptAction(action) {
  $("report").innerHTML = `<p class="muted">${action === "adapt" ? "adapting…" : "rolling back…"}</p>`;
  const path = `/v1/adapt/${encodeURIComponent(camera())}` + (action === "rollback" ? "/rollback" : "");
  try { report(await api(path, {method: "POST"}), action); }
  catch (e) { $("report").innerHTML = `<p class="err" id="report-head">${esc(e.message)}</p>`; }
}
$("adapt").onclick = () => adaptAction("adapt");
$("rollback").onclick = () => adaptAction("rollback");
$("export").onclick = async () => {
  try {
    const s = await api("/v1/labels/export", {...JSON_POST, body: JSON.stringify({camera: camera()})});
    const left = Object.entries(s.left_out).map(([why, n]) => `${n} ${esc(why)}`).join("; ");
    $("exported").innerHTML = `<span class="ok">${s.rows} view(s) of ${s.tracks} vehicle(s) → ${esc(s.path)}</span>
      <br><span class="muted">${s.conflicted_fields} conflicted field(s) left empty${left ? "; left out: " + left : ""}</span>`;
  } catch (e) { $("exported").innerHTML = `<span class="err">${esc(e.message)}</span>`; }
};

(async () => {
  let cams;
  try { cams = await api("/v1/review/cameras"); } catch (e) { return; }
  vocab = await api("/v1/review/vocabulary");
  for (const f of FIELDS) $("dl-" + f).innerHTML = [...vocab[f], CANT_TELL].map((v) => `<option value="${esc(v)}">`).join("");
  const wanted = new URLSearchParams(location.search).get("camera");
  $("camera").innerHTML = cams.map((c) => `<option${c === wanted ? " selected" : ""}>${esc(c)}</option>`).join("");
  $("app").hidden = false;
  if (cams.length) { await load(); focusField(0); } else { $("status").textContent = "no sightings yet"; show(); }
})();
