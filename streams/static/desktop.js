// The agent desktop: one call's live transcript and what the co-pilot suggests.
// Nothing leaves this page without the agent's click (copy, dismiss, pause, resume,
// transfer, accept the wrap-up).
import { LiveSocket, clock, el, getJson, label, showState, wsUrl } from "/static/live.js";

const MAX_LINES = 400; // on screen; the call record keeps everything
const MAX_POINTS = 400;
const SUMMARY_FIELDS = ["intent", "steps_tried", "data_points", "next_steps", "open_questions"];
const OWNERS = ["agent", "company", "customer"];
const $ = (id) => document.getElementById(id);

const callId = new URLSearchParams(location.search).get("call");
let lastSeq = 0;
let startedAt = null;
let endedAfterS = null;
let summary = null;
let trimmed = 0;
let live = null; // the call's LiveSocket: it also carries the agent's pause and resume
let callLive = false; // started and not ended: it can be paused
let paused = null; // the call.paused event while the call is paused
let asked = "pause"; // what the agent last sent ("pause", "transfer", "wrapup"): whose error it is
const partials = new Map(); // speaker -> <li> shown in place until the final replaces it
const points = []; // sentiment: {speaker, score, t, spike}

if (callId) follow(callId);
else showPicker();

// --- call picker ----------------------------------------------------------------------
async function showPicker() {
  $("picker").hidden = false;
  showState($("conn"), "live");
  try {
    const { calls } = await getJson("/v1/calls");
    calls.sort((a, b) => (a.status === "live" ? 0 : 1) - (b.status === "live" ? 0 : 1));
    $("call-list").replaceChildren(
      ...calls.map((call) =>
        el("li", {}, el("a", { href: `/desktop?call=${encodeURIComponent(call.call_id)}` }, call.call_id),
          ` · ${call.status} · started ${call.started_at}`)),
    );
    if (!calls.length) $("call-list").replaceChildren(el("li", { class: "muted" }, "No calls yet."));
  } catch (error) {
    $("call-list").replaceChildren(el("li", { class: "neg" }, `Cannot list calls: ${error.message}`));
  }
  setTimeout(showPicker, 5000);
}

// --- one call -----------------------------------------------------------------------
function follow(id) {
  $("desktop").hidden = false;
  $("call-id").textContent = id;
  document.title = `Call ${id} · callassist`;
  // partials=0: the stored backlog without old partials (live ones still come)
  const url = () =>
    wsUrl(`/v1/calls/${encodeURIComponent(id)}/events`, { since: lastSeq, partials: 0 });
  live = new LiveSocket(url, {
    onEvent: (event) => {
      if (event.type === "error") return showError(event.message); // ours, unnumbered
      if (typeof event.seq !== "number" || event.seq <= lastSeq) return; // never twice
      lastSeq = event.seq;
      handle(event);
    },
    onState: (state) => showState($("conn"), endedAfterS !== null && state === "live" ? "closed" : state),
    onOpen: showPause,
  });
  $("pause-controls").hidden = false;
  $("pause-payment").addEventListener("click", () => askPause({ type: "pause", reason: "payment" }));
  $("pause-resume").addEventListener("click", () => askPause({ type: "resume" }));
  $("copy-summary").addEventListener("click", copySummary);
  $("handover-dismiss").addEventListener("click", () => { $("handover").hidden = true; });
  $("wrapup-form").addEventListener("submit", acceptWrapup);
  $("transfer-open").addEventListener("click", () => { $("transfer-form").hidden = false; $("transfer-to").focus(); });
  $("transfer-cancel").addEventListener("click", () => { $("transfer-form").hidden = true; });
  $("transfer-form").addEventListener("submit", sendTransfer);
  $("wrapup-add").addEventListener("click", () => addFollowUp({ what: "", owner: "agent", when: "" }));
  setInterval(showDuration, 1000);
}

function handle(event) {
  const handlers = {
    "call.started": onStarted,
    "transcript.partial": onPartial,
    "transcript.final": onFinal,
    translation: onTranslation,
    sentiment: onSentiment,
    intent: onIntent,
    summary: (e) => showSummary(e),
    suggestion: onSuggestion,
    "handover.cue": onHandover,
    "handover.package": onPackage,
    "caller.history": onHistory,
    dynamics: onDynamics,
    "dynamics.incident": onIncident,
    "call.paused": onPaused,
    "call.resumed": onResumed,
    "call.ended": onEnded,
    wrapup: onWrapup,
    "wrapup.accepted": onWrapupAccepted,
  };
  const handler = handlers[event.type];
  if (handler) handler(event);
}

function onStarted(event) {
  if (startedAt === null || event.resumed) startedAt = Date.parse(event.ts);
  endedAfterS = null;
  callLive = true;
  showState($("conn"), "live");
  showPause();
}

function onEnded(event) {
  endedAfterS = event.duration_s;
  callLive = false;
  paused = null; // a call that ends paused just ends
  showPause();
  partials.forEach((li) => li.remove());
  partials.clear();
  if (event.summary) showSummary(event.summary);
  showState($("conn"), "closed");
  showDuration();
}

function showDuration() {
  if (startedAt === null) return;
  const seconds = endedAfterS ?? (Date.now() - startedAt) / 1000;
  $("duration").textContent = clock(seconds);
}

// --- pause for payment ------------------------------------------------------------------
// The banner follows the call.paused / call.resumed events, never the click, so a
// reloaded page (which replays them) shows the same thing.
function askPause(message) {
  const socket = live && live.socket;
  if (!socket || socket.readyState !== WebSocket.OPEN) {
    showPauseError("Not connected: try again in a moment.");
    return;
  }
  $("pause-error").hidden = true;
  asked = "pause";
  $(message.type === "pause" ? "pause-payment" : "pause-resume").disabled = true; // until the event
  socket.send(JSON.stringify(message));
}

function showError(message) {
  if (asked === "wrapup") showWrapupError(message);
  else if (asked === "transfer") showTransferError(message);
  else showPauseError(message);
}

function showPauseError(message) {
  $("pause-error").textContent = `Pause or resume failed: ${message}`;
  $("pause-error").hidden = false;
  showPause();
}

function onPaused(event) {
  paused = event;
  showPause();
}

function onResumed(event) {
  const was = paused || event;
  paused = null;
  const why = was.reason ? ` for ${was.reason}` : "";
  $("lines").insertBefore(
    el("li", { class: "note" }, `Not transcribed: paused${why} by the ${was.by} for ${clock(event.paused_s)}`),
    [...partials.values()][0] || null);
  showPause();
}

function showPause() {
  const banner = $("paused");
  banner.hidden = paused === null;
  if (paused) {
    const why = paused.reason ? ` for ${paused.reason}` : "";
    const since = new Date(paused.ts).toLocaleTimeString();
    banner.textContent = `Paused${why} by the ${paused.by}: nothing is being transcribed (since ${since})`;
  }
  $("pause-payment").hidden = paused !== null;
  $("pause-payment").disabled = !callLive;
  $("pause-resume").hidden = paused === null;
  $("pause-resume").disabled = !callLive;
  $("transfer-open").disabled = !callLive;
}

// --- transcript -----------------------------------------------------------------------
function line(event, partial) {
  return el("li", { class: partial ? "partial" : "final", "data-speaker": event.speaker },
    el("span", { class: "t" }, clock(event.t_start)),
    el("span", { class: `who ${event.speaker}` }, event.speaker),
    el("span", { class: "text" }, event.text));
}

function onPartial(event) {
  const fresh = line(event, true);
  const old = partials.get(event.speaker);
  if (old) old.replaceWith(fresh);
  else $("lines").append(fresh);
  partials.set(event.speaker, fresh);
  followScroll();
}

function onFinal(event) {
  const li = line(event, false);
  li.dataset.segment = event.segment_id;
  li.dataset.seq = event.seq;
  const partial = partials.get(event.speaker);
  if (partial) {
    partial.replaceWith(li);
    partials.delete(event.speaker);
  } else {
    const first = [...partials.values()][0];
    $("lines").insertBefore(li, first || null);
  }
  trim();
  followScroll();
}

function onTranslation(event) {
  const li = document.querySelector(`#lines li[data-segment="${CSS.escape(event.segment_id)}"]`);
  if (li) li.append(el("p", { class: "translation", lang: event.target_language }, event.text));
}

function trim() {
  const finals = $("lines").querySelectorAll("li.final");
  const extra = finals.length - MAX_LINES;
  for (let i = 0; i < extra; i++) finals[i].remove();
  if (extra > 0) {
    trimmed += extra;
    $("trimmed").hidden = false;
    $("trimmed").replaceChildren(`${trimmed} earlier lines are in the `,
      el("a", { href: `/v1/calls/${encodeURIComponent(callId)}` }, "call record"), ".");
  }
}

function followScroll() {
  const box = $("transcript");
  if (box.scrollHeight - box.scrollTop - box.clientHeight < 120) box.scrollTop = box.scrollHeight;
}

// --- co-pilot -------------------------------------------------------------------------
function onIntent(event) {
  $("intent").textContent = `${label(event.intent)} (${Math.round(event.confidence * 100)}%)`;
  $("intent").classList.remove("muted");
  $("intent").title = event.description || "";
  $("intent-evidence").textContent = event.evidence.length ? `“${event.evidence.join("” · “")}”` : "";
}

function onSentiment(event) {
  points.push({ speaker: event.speaker, score: event.score, t: event.t_end, spike: event.spike });
  if (points.length > MAX_POINTS) points.shift();
  if (event.spike || (event.speaker === "customer" && event.reason)) {
    $("sentiment-reason").textContent = `${event.spike ? "Spike: " : ""}${event.reason}`;
    $("sentiment-reason").className = event.spike ? "neg" : "muted";
  }
  drawSentiment();
}

function drawSentiment() {
  const svg = $("sentiment-chart");
  const ns = "http://www.w3.org/2000/svg";
  const t0 = points.length ? points[0].t : 0;
  const span = Math.max(1, (points.length ? points[points.length - 1].t : 1) - t0);
  const x = (p) => ((p.t - t0) / span) * 290 + 5;
  const y = (p) => 45 - p.score * 40;
  const shapes = [];
  const axis = document.createElementNS(ns, "line");
  Object.entries({ x1: 0, x2: 300, y1: 45, y2: 45, stroke: "#d0d7de" }).forEach(([k, v]) => axis.setAttribute(k, v));
  shapes.push(axis);
  for (const [speaker, color] of [["customer", "#0a58ca"], ["agent", "#1a7f37"]]) {
    const mine = points.filter((p) => p.speaker === speaker);
    const path = document.createElementNS(ns, "polyline");
    path.setAttribute("points", mine.map((p) => `${x(p)},${y(p)}`).join(" "));
    path.setAttribute("fill", "none");
    path.setAttribute("stroke", color);
    path.setAttribute("stroke-width", "2");
    shapes.push(path);
  }
  for (const p of points.filter((q) => q.spike)) {
    const dot = document.createElementNS(ns, "circle");
    Object.entries({ cx: x(p), cy: y(p), r: 5, fill: "#b42318", class: "spike" }).forEach(([k, v]) => dot.setAttribute(k, v));
    shapes.push(dot);
  }
  svg.replaceChildren(...shapes);
}

function itemText(field, item) {
  if (field === "data_points") return `${label(item.kind)}: ${item.value}`;
  return item.text;
}

function showSummary(next) {
  summary = next;
  for (const field of SUMMARY_FIELDS) {
    const dd = document.querySelector(`#summary dd[data-field="${field}"]`);
    const value = next[field];
    if (field === "intent") dd.textContent = value ? label(value) : "—";
    else if (!value || !value.length) dd.textContent = "—";
    else dd.replaceChildren(el("ul", {}, ...value.map((item) => el("li", {}, itemText(field, item)))));
  }
}

function summaryText() {
  if (!summary) return "";
  const lines = [`Call ${callId}`, `Intent: ${label(summary.intent) || "unknown"}`];
  for (const field of SUMMARY_FIELDS.slice(1)) {
    const items = summary[field] || [];
    if (items.length) lines.push(`${label(field)}: ${items.map((i) => itemText(field, i)).join("; ")}`);
  }
  return lines.join("\n");
}

async function copySummary() {
  const text = summaryText();
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    const area = el("textarea", { value: text });
    document.body.append(area);
    area.select();
    document.execCommand("copy");
    area.remove();
  }
  $("copied").textContent = text ? "Copied." : "Nothing to copy yet.";
}

function onSuggestion(event) {
  const item = el("li", { class: event.kind, "data-kind": event.kind },
    el("strong", {}, event.title), el("div", {}, event.body),
    el("div", { class: "why" }, `Why: ${event.why} · ${event.source}`),
    el("button", { type: "button", "aria-label": `Dismiss ${event.title}` }, "Dismiss"));
  item.querySelector("button").addEventListener("click", () => item.remove());
  $("suggestions").prepend(item);
}

function onHandover(event) {
  $("handover").hidden = false;
  $("handover-urgency").textContent = event.urgency;
  $("handover-urgency").className = `badge ${event.urgency}`;
  $("handover-reason").textContent = event.reason;
  $("handover-open").replaceChildren(...event.open_items.map((item) => el("li", {}, item)));
  if (event.summary) showSummary(event.summary);
}

// --- wrap-up ----------------------------------------------------------------------------
// Drafted by the co-pilot as the call ends; the agent edits and accepts it. The page
// shows what the events say (a reload replays the draft and the last acceptance).
function onWrapup(event) {
  $("wrapup").hidden = false;
  $("wrapup-confidence").textContent = `drafted, ${Math.round(event.confidence * 100)}% sure`;
  const choices = event.choices.length ? event.choices : [event.disposition];
  $("wrapup-disposition").replaceChildren(
    ...choices.map((name) => el("option", { value: name }, label(name))));
  $("wrapup-evidence").textContent = event.evidence.length ? `“${event.evidence.join("” · “")}”` : "";
  showNotes(event.disposition, event.notes);
  $("wrapup-status").textContent = "Check the draft, edit what is wrong, then accept.";
  $("wrapup-status").className = "muted";
}

function onWrapupAccepted(event) {
  $("wrapup").hidden = false;
  showNotes(event.disposition, event.notes);
  $("wrapup-accept").disabled = false;
  const how = event.edited ? "with your edits" : "as drafted";
  $("wrapup-status").textContent = `Accepted ${how} ${clock(event.acw_s)} after the call ended. Stored.`;
  $("wrapup-status").className = "done";
}

function showNotes(disposition, notes) {
  $("wrapup-disposition").value = disposition;
  $("wrapup-reason").value = notes.reason;
  $("wrapup-actions").value = notes.actions.join("\n");
  $("wrapup-outcome").value = notes.outcome;
  $("wrapup-follow-ups").replaceChildren();
  for (const item of notes.follow_ups || []) addFollowUp(item);
}

function addFollowUp(item) {
  const owner = el("select", { "aria-label": "Owner" },
    ...OWNERS.map((name) => el("option", { value: name }, name)));
  owner.value = item.owner;
  const row = el("li", { "data-segment": item.segment_id || "" },
    el("input", { value: item.what, "aria-label": "Follow-up" }),
    owner,
    el("input", { value: item.when, "aria-label": "When" }),
    el("button", { type: "button", "aria-label": "Remove follow-up" }, "✕"));
  row.querySelector("button").addEventListener("click", () => row.remove());
  $("wrapup-follow-ups").append(row);
}

function acceptWrapup(submit) {
  submit.preventDefault();
  const socket = live && live.socket;
  if (!socket || socket.readyState !== WebSocket.OPEN) {
    showWrapupError("Not connected: try again in a moment.");
    return;
  }
  const followUps = [...$("wrapup-follow-ups").children].map((row) => {
    const [what, owner, when] = row.querySelectorAll("input, select");
    return { what: what.value.trim(), owner: owner.value, when: when.value.trim(), segment_id: row.dataset.segment };
  }).filter((item) => item.what);
  const notes = {
    reason: $("wrapup-reason").value.trim(),
    actions: $("wrapup-actions").value.split("\n").map((a) => a.trim()).filter(Boolean),
    outcome: $("wrapup-outcome").value.trim(),
    follow_ups: followUps,
  };
  asked = "wrapup";
  $("wrapup-accept").disabled = true; // until the event or the error comes back
  $("wrapup-status").textContent = "Saving…";
  $("wrapup-status").className = "muted";
  socket.send(JSON.stringify({ type: "wrapup.accept", disposition: $("wrapup-disposition").value, notes }));
}

function showWrapupError(message) {
  $("wrapup-accept").disabled = false;
  $("wrapup-status").textContent = `Not accepted: ${message}`;
  $("wrapup-status").className = "neg";
}

// --- handover -------------------------------------------------------------------------
// Transfer sends the agent's note; the package that comes back (to this desktop and to
// whoever opens the call next) is what the next person reads first.
function sendTransfer(submit) {
  submit.preventDefault();
  const socket = live && live.socket;
  if (!socket || socket.readyState !== WebSocket.OPEN) {
    $("transfer-status").textContent = "Not connected: try again in a moment.";
    return;
  }
  asked = "transfer";
  $("transfer-send").disabled = true;
  $("transfer-status").textContent = "Sending…";
  socket.send(JSON.stringify({ type: "transfer", to: $("transfer-to").value.trim(), note: $("transfer-note").value.trim() }));
}

function showTransferError(message) {
  $("transfer-send").disabled = false;
  $("transfer-status").textContent = `Not handed over: ${message}`;
}

function onPackage(event) {
  $("transfer-form").hidden = true;
  $("transfer-send").disabled = false;
  $("transfer-status").textContent = "";
  const to = event.to ? ` to ${event.to}` : "";
  $("package-who").textContent = `Handed over${to} by the ${event.by} at ${new Date(event.ts).toLocaleTimeString()}`;
  $("package-reason").textContent = event.reason ? `Why: ${event.reason}` : "";
  $("package-note").textContent = event.note ? `Note: ${event.note}` : "";
  const s = event.summary;
  const facts = [
    ["Intent", s.intent ? label(s.intent) : "not clear yet"],
    ["Steps tried", s.steps_tried.map((i) => i.text).join("; ")],
    ["Data points", s.data_points.map((p) => `${label(p.kind)}: ${p.value}`).join("; ")],
    ["Promised", s.next_steps.map((i) => i.text).join("; ")],
    ["Open questions", s.open_questions.map((i) => i.text).join("; ")],
    ["Customer", event.sentiment_trend],
    ["Cues", event.cues.join("; ")],
  ].filter(([, value]) => value);
  $("package-facts").replaceChildren(...facts.flatMap(([name, value]) => [el("dt", {}, name), el("dd", {}, value)]));
  $("package-tail").replaceChildren(...event.transcript_tail.map((line) =>
    el("li", {}, el("span", { class: `who ${line.speaker}` }, line.speaker), line.text)));
  $("package").hidden = false;
}

// --- caller history -----------------------------------------------------------------------
// The caller's earlier calls (by a keyed hash of their number: the page never sees it);
// a repeat contact says which earlier call it repeats.
function onHistory(event) {
  $("history").hidden = false;
  $("history-none").hidden = event.calls.length > 0;
  $("history-calls").replaceChildren(...event.calls.map((call) => {
    const outcome = call.disposition ? label(call.disposition) : "no wrap-up";
    const open = call.resolved === false ? " (not resolved)" : "";
    return el("li", { class: call.resolved === false ? "open" : "", "data-call": call.call_id },
      `${new Date(call.started_at).toLocaleDateString()} · ${label(call.intent) || "no clear intent"} · ${outcome}${open}`,
      call.summary ? el("div", { class: "muted" }, call.summary) : null);
  }));
  const earlier = event.calls.find((call) => call.call_id === event.repeat_of);
  $("history-repeat").hidden = !event.repeat_contact;
  if (event.repeat_contact && earlier) {
    $("history-repeat").textContent =
      `Repeat contact: called on ${new Date(earlier.started_at).toLocaleDateString()} about ${label(earlier.intent)}, not resolved.`;
  }
}

// --- conversation dynamics ------------------------------------------------------------------
function onDynamics(event) {
  $("dynamics").hidden = false;
  const minutes = Math.round(event.window_s / 60);
  $("dyn-ratio").textContent = event.agent_talk_ratio === null
    ? "—" : `${Math.round(event.agent_talk_ratio * 100)}% of the last ${minutes} min`;
  $("dyn-pace").textContent = event.agent_wpm === null ? "—" : `${Math.round(event.agent_wpm)} words/min`;
  $("dyn-talkover").textContent = `${event.talk_over_s.toFixed(1)} s, ${event.interruptions} interruption(s)`;
  $("dyn-deadair").textContent = `${Math.round(event.dead_air_s)} s`;
}

function onIncident(event) {
  $("dynamics").hidden = false;
  $("dyn-incident").textContent = `${clock(event.t_start)}: ${event.detail}`;
}
