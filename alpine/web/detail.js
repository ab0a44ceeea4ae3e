// The detail dialog: every field the tier may see, and the price levels as a chart.

import { levelsChart } from "./charts.js";
import { fmtConfidence, fmtPct, fmtPrice, fmtTime, h } from "./format.js";

function pair(term, value, key) {
  return [h("dt", { text: term }), h("dd", { "data-field": key }, value)];
}

function riskReward(signal) {
  const risk = Math.abs(signal.entry_price - signal.stop_price);
  const reward = Math.abs(signal.target_price - signal.entry_price);
  return risk > 0 ? `1 : ${(reward / risk).toFixed(2)}` : "–";
}

function section(title, key, ...content) {
  return h("section", { class: "detail-part", "data-part": key }, h("h3", { text: title }), ...content);
}

/** Fill `dialog` with `signal` (fields as the tier sees them) and open it. */
export function showDetail(dialog, signal) {
  const title = `${signal.symbol} ${signal.action}`;
  const parts = [
    h("header", { class: "detail-head" },
      h("h2", { id: "detail-title", text: title }),
      h("button", { type: "button", class: "close", "data-close": true, "aria-label": "Close details", text: "Close" })),
    h("div", { class: "detail-grid" },
      section("Prices", "prices",
        h("dl", {},
          pair("Entry", fmtPrice(signal.entry_price), "entry_price"),
          pair("Target", fmtPrice(signal.target_price), "target_price"),
          pair("Stop", fmtPrice(signal.stop_price), "stop_price"),
          pair("Risk : reward", riskReward(signal), "risk_reward"),
          pair("Confidence", fmtConfidence(signal.confidence), "confidence"))),
      section("Chart", "chart", h("figure", {}, levelsChart(signal)))),
    section("Signal", "signal",
      h("dl", {},
        pair("Time (UTC)", fmtTime(signal.timestamp), "timestamp"),
        pair("Asset", signal.asset_type, "asset_type"),
        pair("Strategy", signal.strategy, "strategy"),
        pair("Data source", signal.data_source, "data_source"),
        pair("Signal id", signal.signal_id, "signal_id"),
        pair("Verification hash", h("code", { text: signal.verification_hash }), "verification_hash"))),
  ];
  if ("reasoning" in signal) {
    parts.push(section("Reasoning", "reasoning", h("p", { text: signal.reasoning ?? "–" })));
  }
  if ("regime" in signal || "outcome" in signal) {
    const items = [];
    if ("regime" in signal) items.push(pair("Regime", signal.regime ?? "–", "regime"));
    if ("outcome" in signal) {
      items.push(
        pair("Outcome", signal.outcome ?? "open", "outcome"),
        pair("Exit price", fmtPrice(signal.exit_price), "exit_price"),
        pair("P&L", fmtPct(signal.profit_loss_pct), "profit_loss_pct"),
        pair("Closed (UTC)", fmtTime(signal.closed_at), "closed_at"),
      );
    }
    parts.push(section("Regime and outcome", "outcome", h("dl", {}, items)));
  }
  dialog.replaceChildren(h("div", { class: "detail-body" }, parts));
  dialog.dataset.signalId = signal.signal_id;
  dialog.showModal();
  dialog.querySelector("[data-close]").focus();
}
