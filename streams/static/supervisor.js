// The supervisor dashboard: every live call at a glance and an alert feed, newest first.
import { LiveSocket, clock, el, getJson, label, showState, wsUrl } from "/static/live.js";

const ENDED_KEEP_MS = 60_000; // an ended call stays listed this long; its record stays forever
const MAX_ALERTS = 200;
const $ = (id) => document.getElementById(id);
const calls = new Map(); // call_id -> {startedAt, endedAt, duration, intent, sentiment, alerts, paused}
const shownAlerts = new Set(); // call_id#seq: an alert is listed once, whatever the path
let feedSeq = null; // the last feed_seq shown: a reconnect asks the feed for what came after

new LiveSocket(() => wsUrl("/v1/alerts", feedSeq === null ? {} : { since: feedSeq }), {
  onEvent: handle,
  onState: (state) => showState($("conn"), state),
  // Opened fresh, the feed is live only: the live calls' records say what came before.
  onOpen: () => { if (feedSeq === null) catchUp(); },
});
setInterval(render, 1000);
const KPI_EVERY_MS = 30_000;
showKpis();
setInterval(showKpis, KPI_EVERY_MS);
$("kpi-hours").addEventListener("change", showKpis);

async function catchUp() {
  try {
    const { calls: stored } = await getJson("/v1/calls");
    for (const summary of stored.filter((c) => c.status === "live")) {
      const record = await getJson(`/v1/calls/${encodeURIComponent(summary.call_id)}`);
      const call = entry(summary.call_id, Date.parse(summary.started_at));
      if (record.intent) call.intent = record.intent.intent;
      const customer = record.sentiment_timeline.filter((s) => s.speaker === "customer");
      if (customer.length) call.sentiment = customer[customer.length - 1];
      for (const event of record.events.filter((e) => e.type === "alert")) addAlert(event);
      const pauses = record.events.filter((e) => e.type === "call.paused" || e.type === "call.resumed");
      call.paused = pauses.length > 0 && pauses[pauses.length - 1].type === "call.paused";
    }
  } catch (error) {
    console.warn("catch-up failed", error);
  }
  render();
}

function entry(callId, startedAt) {
  if (!calls.has(callId)) {
    calls.set(callId, { startedAt: startedAt || Date.now(), endedAt: null, intent: null,
                        sentiment: null, alerts: 0, worst: null, paused: false });
  }
  return calls.get(callId);
}

/** @param {import("./events.js").Envelope & {type: string}} event */
function handle(event) {
  if (event.feed_seq) feedSeq = Math.max(feedSeq || 0, event.feed_seq);
  const call = entry(event.call_id, Date.parse(event.ts));
  switch (event.type) {
    case "call.started":
      call.startedAt = Date.parse(event.ts);
      call.endedAt = null;
      break;
    case "call.ended":
      call.endedAt = Date.now();
      call.duration = event.duration_s;
      call.paused = false;
      break;
    case "call.paused":
    case "call.resumed":
      call.paused = event.type === "call.paused"; // not being transcribed meanwhile
      break;
    case "intent":
      call.intent = event.intent;
      break;
    case "sentiment":
      if (event.speaker === "customer") call.sentiment = event;
      break;
    case "alert":
      addAlert(event);
      break;
    case "handover.package":
      addHandover(event);
      break;
    case "dynamics.incident":
      addIncident(event);
      break;
  }
  render();
}

/** @param {import("./events.js").Alert & import("./events.js").Envelope} event */
function addAlert(event) {
  const key = `${event.call_id}#${event.seq}`;
  if (shownAlerts.has(key)) return;
  shownAlerts.add(key);
  const call = entry(event.call_id);
  call.alerts += 1;
  if (!call.worst || rank(event.severity) > rank(call.worst)) call.worst = event.severity;
  const link = el("a", { href: `/desktop?call=${encodeURIComponent(event.call_id)}` },
    `Open call ${event.call_id}`);
  const item = el("li", { class: event.severity, "data-call": event.call_id, "data-rule": event.rule },
    el("span", { class: `badge ${event.severity}` }, event.severity), " ",
    el("strong", {}, label(event.rule)), " ",
    el("span", { class: "muted" }, new Date(event.ts).toLocaleTimeString()),
    el("p", {}, event.reason),
    event.evidence.length ? el("p", { class: "evidence" }, `“${event.evidence.join("” · “")}”`) : null,
    event.open_items && event.open_items.length
      ? el("p", {}, `Open: ${event.open_items.join("; ")}`) : null,
    link);
  $("alerts").prepend(item);
  while ($("alerts").children.length > MAX_ALERTS) $("alerts").lastElementChild.remove();
  if (event.severity === "high") {
    item.classList.add("flash");
    beep();
  }
}

/** A handover happened: who handed the call to whom, and why. */
function addHandover(event) {
  const key = `${event.call_id}#${event.seq}`;
  if (shownAlerts.has(key)) return;
  shownAlerts.add(key);
  const to = event.to ? ` to ${event.to}` : "";
  const item = el("li", { class: "handover", "data-call": event.call_id },
    el("span", { class: "badge" }, "handover"), " ",
    el("strong", {}, `Handed over${to} by the ${event.by}`), " ",
    el("span", { class: "muted" }, new Date(event.ts).toLocaleTimeString()),
    event.reason ? el("p", {}, event.reason) : null,
    event.sentiment_trend ? el("p", { class: "muted" }, `Customer: ${event.sentiment_trend}`) : null,
    el("a", { href: `/desktop?call=${encodeURIComponent(event.call_id)}` }, `Open call ${event.call_id}`));
  $("alerts").prepend(item);
  while ($("alerts").children.length > MAX_ALERTS) $("alerts").lastElementChild.remove();
}

/** A talk-over, an interruption or dead air on a call. */
function addIncident(event) {
  const key = `${event.call_id}#${event.seq}`;
  if (shownAlerts.has(key)) return;
  shownAlerts.add(key);
  const item = el("li", { class: "incident", "data-call": event.call_id, "data-kind": event.kind },
    el("span", { class: "badge" }, label(event.kind)), " ",
    el("strong", {}, `Call ${event.call_id}`), " ",
    el("span", { class: "muted" }, new Date(event.ts).toLocaleTimeString()),
    el("p", {}, event.detail),
    el("a", { href: `/desktop?call=${encodeURIComponent(event.call_id)}` }, `Open call ${event.call_id}`));
  $("alerts").prepend(item);
  while ($("alerts").children.length > MAX_ALERTS) $("alerts").lastElementChild.remove();
}

function rank(severity) {
  return { low: 1, medium: 2, high: 3 }[severity] || 0;
}

function beep() {
  if (!$("sound").checked) return;
  try {
    const audio = new AudioContext();
    const tone = audio.createOscillator();
    tone.frequency.value = 880;
    tone.connect(audio.destination);
    tone.start();
    tone.stop(audio.currentTime + 0.25);
  } catch {
    // no sound device, or the browser wants a click first: the visual cue remains
  }
}

function render() {
  const now = Date.now();
  const rows = [];
  for (const [callId, call] of calls) {
    if (call.endedAt && now - call.endedAt > ENDED_KEEP_MS) {
      calls.delete(callId);
      continue;
    }
    const seconds = call.endedAt ? call.duration : (now - call.startedAt) / 1000;
    const score = call.sentiment ? call.sentiment.score : null;
    rows.push(el("tr", { class: call.endedAt ? "ended" : "live", "data-call": callId },
      el("td", {}, el("a", { href: `/desktop?call=${encodeURIComponent(callId)}` }, callId),
        call.endedAt ? " (ended)" : "",
        call.paused ? el("span", { class: "badge paused", title: "not being transcribed" }, "paused") : null),
      el("td", { class: "num" }, clock(seconds || 0)),
      el("td", {}, call.intent ? label(call.intent) : "—"),
      el("td", { class: score === null ? "" : score < -0.3 ? "neg" : score > 0.3 ? "pos" : "" },
        score === null ? "—" : `${score.toFixed(2)}${call.sentiment.spike ? " spike" : ""}`),
      el("td", {}, call.alerts ? el("span", { class: `badge ${call.worst}` }, `${call.alerts}`) : "—")));
  }
  $("calls").tBodies[0].replaceChildren(...rows);
  $("no-calls").hidden = rows.length > 0;
}

// --- KPIs -----------------------------------------------------------------------------
const percent = (share) => (share === null ? "—" : `${Math.round(share * 100)}%`);
const number = (value, digits = 2) => (value === null ? "—" : value.toFixed(digits));
const seconds = (value) => (value === null ? "—" : `${Math.round(value)} s`);

async function showKpis() {
  try {
    const figures = await getJson(`/v1/kpis?hours=${$("kpi-hours").value}`);
    const rows = [["All calls", figures.overall],
      ...Object.entries(figures.by_intent).map(([intent, f]) => [label(intent), f])];
    $("kpis").tBodies[0].replaceChildren(...rows.map(([name, f]) => el("tr", { "data-intent": name },
      el("th", { scope: "row" }, name),
      el("td", { class: "num" }, f.calls),
      el("td", { class: "num" }, `${percent(f.handover_rate)} / ${percent(f.escalation_rate)}`),
      el("td", { class: "num" }, number(f.cues_per_call, 1)),
      el("td", { class: "num" }, `${number(f.sentiment_start)} → ${number(f.sentiment_end)}`),
      el("td", { class: "num" }, percent(f.repeat_contact_rate)),
      el("td", { class: "num" }, percent(f.resolved_rate)),
      el("td", { class: "num" }, `${seconds(f.acw_p50_s)} / ${seconds(f.acw_p90_s)}`),
      el("td", { class: "num" }, `${percent(f.accepted_unedited_rate)} of ${f.wrapups_accepted}`))));
    $("kpi-status").textContent = `Updated ${new Date().toLocaleTimeString()}; every 30 s.`;
  } catch (error) {
    $("kpi-status").textContent = `KPIs unavailable: ${error.message}`;
  }
}
