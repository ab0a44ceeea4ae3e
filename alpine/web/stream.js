// The live stream over fetch(): EventSource cannot send an Authorization header.
//
// Every event (signal, outcome, execution) carries its place in Alpine's feed: `seq`,
// and `prev_seq`, the place of the previous event this tier may see. The page holds a
// position (the last `seq` it showed, with its cursor): from the table's first page,
// then from each event it shows. An event whose `prev_seq` is not that position means
// events are missing (a gap): they are read from `GET /api/v1/signals?after=<cursor>`
// first, in order, and no event is shown twice (anything at or below the position is
// dropped). A reconnect sends the position's cursor as Last-Event-ID, so Alpine resumes
// where the page stopped. A cursor of another epoch (Alpine's history was restored)
// answers 409: the page drops its position, reloads the table and goes on live.

import { ApiError, Unauthorized, retryAfterMs, wait } from "./api.js";

const PATH = "/api/v1/signals/stream";
const DEFAULT_RETRY_MS = 2000;
const MAX_RETRY_MS = 30000;
const IDLE_MS = 45000; // three missed heartbeats: the connection is dead, reconnect
const PAGES = "/api/v1/signals";
const FILL_LIMIT = 500; // events per page when filling a gap
const FILL_MAX_PAGES = 200; // a longer gap is left to a resume (reconnect with the cursor)
const KINDS = new Set(["signal", "outcome", "execution"]);

/** Splits SSE text into events (https://html.spec.whatwg.org/#event-stream-interpretation). */
export class SseParser {
  constructor(onEvent, onRetry) {
    this.onEvent = onEvent;
    this.onRetry = onRetry;
    this.buffer = "";
    this.data = [];
    this.type = "";
    this.id = null;
  }

  push(chunk) {
    let text = this.buffer + chunk;
    const held = text.endsWith("\r") ? "\r" : ""; // maybe the first half of a CRLF
    if (held) text = text.slice(0, -1);
    const lines = text.split(/\r\n|\r|\n/);
    this.buffer = lines.pop() + held;
    for (const line of lines) this.line(line);
  }

  line(line) {
    if (line === "") {
      if (this.data.length) this.onEvent(this.type || "message", this.data.join("\n"), this.id);
      this.data = [];
      this.type = "";
      return;
    }
    if (line.startsWith(":")) return;
    const colon = line.indexOf(":");
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "data") this.data.push(value);
    else if (field === "event") this.type = value;
    else if (field === "id" && !value.includes("\0")) this.id = value;
    else if (field === "retry" && /^\d+$/.test(value)) this.onRetry(Number(value));
  }
}

/** The position of the last event a page holds, or null. */
function positionOf(item) {
  return { seq: item.seq, cursor: item.cursor, epoch: item.epoch ?? null };
}

export class SignalStream {
  /**
   * onEvent(event) for each event, in feed order, once (event.event: signal | outcome |
   * execution); onState("connecting" | "live" | "reconnecting"); onUnauthorized(detail)
   * when Alpine answers 401 (the stream then stops); onResync(reason) to (re)load the
   * table, at the start (reason null) and when Alpine's history changed ("history"): it
   * returns (a promise of) the position the loaded rows hold ({seq, cursor, epoch}), or
   * null when it is not known.
   */
  constructor(api, { onEvent, onState, onUnauthorized, onResync }) {
    this.api = api;
    this.onEvent = onEvent;
    this.onState = onState;
    this.onUnauthorized = onUnauthorized;
    this.onResync = onResync;
    // The position the page holds: the last event shown (or the table's newest row).
    this.seq = null;
    this.cursor = null; // sent as Last-Event-ID
    this.epoch = null;
    this.generation = 0; // a new one when what the page holds is dropped (history changed)
    this.ready = Promise.resolve(); // the table's position, before any event is handled
    this.queue = Promise.resolve(); // events are handled one after another, in order
    this.retryMs = DEFAULT_RETRY_MS;
    this.stopped = false;
    this.controller = null;
    this.failures = 0;
    this.immediate = false; // reconnect at once (history changed)
    let settle;
    /** Resolves after the first connection attempt, whether it succeeded or not. */
    this.firstAttempt = new Promise((resolve) => {
      settle = resolve;
    });
    this.settleFirst = settle;
  }

  start() {
    this.onState("connecting");
    // The table loads once the stream is under way, so little can fall between them;
    // whatever does is a gap, filled when the next event shows it.
    this.resync(null, this.firstAttempt);
    this.loop();
  }

  stop() {
    this.stopped = true;
    this.controller?.abort();
  }

  /** Forget the position; reload the table (after `after`) and take its position. */
  resync(reason, after = Promise.resolve()) {
    this.generation += 1;
    const generation = this.generation;
    this.seq = null;
    this.cursor = null;
    this.epoch = null;
    this.ready = after
      .then(() => (this.stopped ? null : this.onResync(reason)))
      .then((held) => {
        if (held && generation === this.generation && this.seq === null) {
          this.seq = held.seq;
          this.cursor = held.cursor;
          this.epoch = held.epoch ?? null;
        }
      })
      .catch(() => {});
  }

  /** Alpine's history was restored or rewound: what the page holds means nothing now. */
  historyChanged() {
    this.resync("history");
    this.immediate = true; // and on at once, without a cursor
    this.controller?.abort();
  }

  unauthorized(detail) {
    if (this.stopped) return;
    this.stopped = true;
    this.settleFirst();
    this.controller?.abort();
    this.onUnauthorized(detail);
  }

  async loop() {
    while (!this.stopped) {
      let pause = this.retryMs;
      try {
        pause = await this.connect();
      } catch (error) {
        if (error instanceof Unauthorized) {
          this.unauthorized(error.message);
          return;
        }
      }
      this.settleFirst();
      if (this.stopped) return;
      this.failures += 1;
      this.onState("reconnecting");
      // Alpine's retry for the first two misses, then doubling: a restart is caught quickly.
      await wait(Math.min(pause * 2 ** Math.max(0, this.failures - 2), MAX_RETRY_MS));
    }
  }

  /** One connection, read until it ends; returns how long to wait before the next. */
  async connect() {
    const controller = new AbortController();
    this.controller = controller;
    const headers = this.api.headers({ Accept: "text/event-stream" });
    if (this.cursor !== null) headers["Last-Event-ID"] = this.cursor;
    let response;
    try {
      response = await fetch(PATH, {
        headers,
        cache: "no-store",
        credentials: "omit",
        signal: controller.signal,
      });
    } catch {
      return this.pause();
    }
    if (response.status === 401) throw new Unauthorized("unknown or revoked bearer token");
    if (response.status === 429) return retryAfterMs(response, this.retryMs);
    if (response.status === 409) {
      // The cursor is of another epoch, or beyond the feed: Alpine's history changed.
      response.body?.cancel().catch(() => {});
      this.historyChanged();
      return this.pause();
    }
    if (!response.ok || !response.body) return this.pause();
    await this.read(response.body, controller);
    return this.pause();
  }

  pause() {
    const ms = this.immediate ? 0 : this.retryMs;
    this.immediate = false;
    return ms;
  }

  async read(body, controller) {
    const parser = new SseParser(
      (type, data) => this.dispatch(type, data, controller.signal),
      (ms) => {
        this.retryMs = ms;
      },
    );
    const reader = body.pipeThrough(new TextDecoderStream()).getReader();
    let idle = setTimeout(() => controller.abort(), IDLE_MS);
    let opened = false;
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        clearTimeout(idle);
        idle = setTimeout(() => controller.abort(), IDLE_MS);
        parser.push(value);
        if (!opened) {
          opened = true;
          this.failures = 0;
          this.onState("live");
          this.settleFirst();
        }
      }
    } catch {
      // aborted or the connection broke: the caller reconnects
    } finally {
      clearTimeout(idle);
    }
  }

  /** Queue an event of the connection `connection` (an AbortSignal). */
  dispatch(type, data, connection) {
    if (!KINDS.has(type) || this.stopped) return;
    let item;
    try {
      item = JSON.parse(data);
    } catch {
      return;
    }
    if (!Number.isInteger(item.seq) || !Number.isInteger(item.prev_seq)) return;
    item.event ??= type;
    const generation = this.generation;
    this.queue = this.queue.then(() => this.handle(item, generation, connection)).catch(() => {});
  }

  /**
   * Show `item` unless the page holds it; first fill a gap before it. The events of a
   * connection this page dropped are left to the next one, which resumes from the
   * position shown and so sends them again.
   */
  async handle(item, generation, connection) {
    await this.ready;
    if (this.stopped || generation !== this.generation || connection.aborted) return;
    if (this.epoch !== null && item.epoch !== this.epoch) {
      this.historyChanged(); // the open stream moved to a new epoch (a restore)
      return;
    }
    if (this.seq !== null && item.seq <= this.seq) return; // shown already
    if (this.seq !== null && item.prev_seq !== this.seq) {
      if (!(await this.fill(generation))) return;
      if (item.seq <= this.seq) return; // the fill showed it
    }
    this.show(item);
  }

  /**
   * Read the events after the held position, oldest first, until caught up, and show
   * them. False when that failed: then the connection starts again from the held
   * position, and Alpine's resume sends what is missing.
   */
  async fill(generation) {
    try {
      for (let n = 0; n < FILL_MAX_PAGES; n += 1) {
        const body = await this.api.get(PAGES, { after: this.cursor, limit: FILL_LIMIT });
        if (this.stopped || generation !== this.generation) return false;
        for (const item of body.events) {
          if (this.epoch !== null && item.epoch !== this.epoch) {
            this.historyChanged();
            return false;
          }
          if (item.seq > this.seq) this.show(item);
        }
        if (body.caught_up || body.events.length === 0) return true;
      }
    } catch (error) {
      if (error instanceof Unauthorized) {
        this.unauthorized(error.message);
        return false;
      }
      if (error instanceof ApiError && error.status === 409) {
        if (generation === this.generation) this.historyChanged();
        return false;
      }
    }
    if (!this.stopped && generation === this.generation) this.controller?.abort();
    return false;
  }

  show(item) {
    this.onEvent(item);
    // Only after the event is shown: a resume from this position never skips it.
    ({ seq: this.seq, cursor: this.cursor, epoch: this.epoch } = positionOf(item));
  }
}

export { positionOf };
