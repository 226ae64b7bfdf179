// The one WebSocket of the page. It reconnects with exponential backoff and jitter, goes
// quiet while the browser is offline, and reports its state ("connecting", "connected",
// "reconnecting", "offline") so the page can show it. Events arrive as "event" CustomEvents.

export class Socket extends EventTarget {
  constructor() {
    super();
    this.ws = null;
    this.state = "connecting";
    this.attempt = 0;
    this.timer = null;
    this.stopped = false;
    this.offline = () => this.goOffline();
    this.online = () => this.reconnectNow();
  }

  start() {
    this.stopped = false;
    window.addEventListener("offline", this.offline);
    window.addEventListener("online", this.online);
    this.open();
  }

  stop() {
    window.removeEventListener("offline", this.offline);
    window.removeEventListener("online", this.online);
    this.stopped = true;
    clearTimeout(this.timer);
    this.ws?.close(1000);
  }

  setState(state) {
    if (this.state === state) return;
    this.state = state;
    this.dispatchEvent(new CustomEvent("state", { detail: state }));
  }

  open() {
    clearTimeout(this.timer);
    if (!navigator.onLine) return this.setState("offline");
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const ws = new WebSocket(`${scheme}://${location.host}/api/v1/ws`);
    this.ws = ws;
    ws.onmessage = (e) => {
      const event = JSON.parse(e.data);
      if (event.type === "ready") {
        this.attempt = 0;
        this.setState("connected");
      }
      this.dispatchEvent(new CustomEvent("event", { detail: event }));
    };
    ws.onclose = (e) => {
      if (this.ws !== ws) return;
      this.ws = null;
      // Stopped on purpose (signing out): whatever the server said as it closed is moot.
      if (this.stopped) return;
      if (e.code === 4001) {
        this.stopped = true;
        this.dispatchEvent(new CustomEvent("revoked"));
        return;
      }
      if (this.stopped) return;
      if (!navigator.onLine) return this.setState("offline");
      this.setState("reconnecting");
      const delay = Math.min(15000, 500 * 2 ** this.attempt) * (0.75 + Math.random() / 2);
      this.attempt += 1;
      this.timer = setTimeout(() => this.open(), delay);
    };
  }

  goOffline() {
    this.setState("offline");
    const ws = this.ws;
    this.ws = null;
    ws?.close(1000);
  }

  reconnectNow() {
    if (this.stopped || this.ws) return;
    this.attempt = 0;
    this.setState("reconnecting");
    this.open();
  }

  /** Sends when open; returns whether it went out. */
  send(frame) {
    if (this.ws?.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify(frame));
    return true;
  }
}
