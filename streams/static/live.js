// Shared by the desktop and supervisor pages: the token, JSON fetches, and a websocket
// that reconnects by itself. No framework and nothing fetched from the internet.

const TOKEN_KEY = "callassist.token";

/**
 * The bearer token: from ?token= (remembered for this tab) or from an earlier page. The
 * token leaves the address bar (and so the history, bookmarks and screen shares) at once.
 */
export function token() {
  const params = new URLSearchParams(location.search);
  const fromUrl = params.get("token");
  if (fromUrl) {
    sessionStorage.setItem(TOKEN_KEY, fromUrl);
    params.delete("token");
    const query = params.toString();
    history.replaceState(history.state, "", `${location.pathname}${query ? `?${query}` : ""}${location.hash}`);
  }
  return fromUrl || sessionStorage.getItem(TOKEN_KEY) || "";
}

token(); // read and hide it as soon as any page loads

export function wsUrl(path, params = {}) {
  const url = new URL(path, location.href);
  url.protocol = location.protocol === "https:" ? "wss:" : "ws:";
  for (const [key, value] of Object.entries(params)) url.searchParams.set(key, value);
  if (token()) url.searchParams.set("token", token());
  return url.toString();
}

export async function getJson(path) {
  const headers = token() ? { Authorization: `Bearer ${token()}` } : {};
  const response = await fetch(path, { headers });
  if (!response.ok) throw new Error(`${path}: HTTP ${response.status}`);
  return response.json();
}

/**
 * A websocket that comes back after a drop. `url()` is asked again on every attempt, so
 * the desktop can resume with ?since= the last seq it showed. States: connecting, live,
 * reconnecting, closed.
 */
export class LiveSocket {
  constructor(url, { onEvent, onState, onOpen }) {
    this.url = url;
    this.onEvent = onEvent;
    this.onState = onState || (() => {});
    this.onOpen = onOpen || (() => {});
    this.delayMs = 500;
    this.stopped = false;
    this.connect();
  }

  connect() {
    this.onState(this.socket ? "reconnecting" : "connecting");
    const socket = new WebSocket(this.url());
    this.socket = socket;
    socket.onopen = () => {
      this.delayMs = 500;
      this.onState("live");
      this.onOpen();
    };
    socket.onmessage = (message) => {
      let event;
      try {
        event = JSON.parse(message.data);
      } catch {
        return; // not ours to show
      }
      this.onEvent(event);
    };
    socket.onclose = () => {
      if (this.stopped) return;
      this.onState("reconnecting");
      setTimeout(() => this.connect(), this.delayMs);
      this.delayMs = Math.min(this.delayMs * 2, 5000);
    };
  }

  stop() {
    this.stopped = true;
    this.onState("closed");
    if (this.socket) this.socket.close();
  }
}

/** An element with text only: call data never becomes HTML. */
export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (key === "class") node.className = value;
    else if (key.startsWith("data-") || key.startsWith("aria-") || key === "role") {
      node.setAttribute(key, value);
    } else node[key] = value;
  }
  for (const child of children) {
    if (child !== null && child !== undefined) {
      node.append(child instanceof Node ? child : String(child));
    }
  }
  return node;
}

export function clock(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const pad = (n) => String(n).padStart(2, "0");
  return h ? `${h}:${pad(m)}:${pad(s % 60)}` : `${m}:${pad(s % 60)}`;
}

export function showState(node, state) {
  const words = {
    connecting: "connecting…",
    live: "live",
    reconnecting: "reconnecting…",
    closed: "call ended",
  };
  node.textContent = words[state] || state;
  node.dataset.state = state;
}

export const label = (name) => (name || "").replaceAll("_", " ");
