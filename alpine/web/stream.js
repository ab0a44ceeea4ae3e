// The live stream over fetch(): EventSource cannot send an Authorization header.
// Each event's id is kept and sent back as Last-Event-ID on reconnect, so Alpine
// resumes exactly where this page stopped: nothing skipped, nothing repeated.

import { Unauthorized, retryAfterMs, wait } from "./api.js";

const PATH = "/api/v1/signals/stream";
const DEFAULT_RETRY_MS = 2000;
const MAX_RETRY_MS = 30000;
const IDLE_MS = 45000; // three missed heartbeats: the connection is dead, reconnect

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

export class SignalStream {
  /**
   * onSignal(signal) for each event; onState("connecting" | "live" | "reconnecting");
   * onUnauthorized(detail) when Alpine answers 401 (the stream then stops).
   */
  constructor(api, { onSignal, onState, onUnauthorized }) {
    this.api = api;
    this.onSignal = onSignal;
    this.onState = onState;
    this.onUnauthorized = onUnauthorized;
    this.lastEventId = null;
    this.retryMs = DEFAULT_RETRY_MS;
    this.stopped = false;
    this.controller = null;
    this.failures = 0;
    let settle;
    /** Resolves after the first connection attempt, whether it succeeded or not. */
    this.firstAttempt = new Promise((resolve) => {
      settle = resolve;
    });
    this.settleFirst = settle;
  }

  start() {
    this.onState("connecting");
    this.loop();
  }

  stop() {
    this.stopped = true;
    this.controller?.abort();
  }

  async loop() {
    while (!this.stopped) {
      let pause = this.retryMs;
      try {
        pause = await this.connect();
      } catch (error) {
        if (error instanceof Unauthorized) {
          this.stopped = true;
          this.settleFirst();
          this.onUnauthorized(error.message);
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
    if (this.lastEventId !== null) headers["Last-Event-ID"] = this.lastEventId;
    let response;
    try {
      response = await fetch(PATH, {
        headers,
        cache: "no-store",
        credentials: "omit",
        signal: controller.signal,
      });
    } catch {
      return this.retryMs;
    }
    if (response.status === 401) throw new Unauthorized("unknown or revoked bearer token");
    if (response.status === 429) return retryAfterMs(response, this.retryMs);
    if (!response.ok || !response.body) return this.retryMs;
    await this.read(response.body, controller);
    return this.retryMs;
  }

  async read(body, controller) {
    const parser = new SseParser(
      (type, data, id) => this.dispatch(type, data, id),
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

  dispatch(type, data, id) {
    if (type !== "signal" || this.stopped) return;
    let signal;
    try {
      signal = JSON.parse(data);
    } catch {
      return;
    }
    this.onSignal(signal);
    this.lastEventId = id; // only after the signal is shown: a resume never skips it
  }
}
