// Small pure helpers: DOM building without innerHTML, and number/time/tier wording.

/** An element with attributes (class, text, data-*, aria-*, ...) and children. */
export function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "text") node.textContent = String(value);
    else if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

const twoDecimals = new Intl.NumberFormat("en-US", {
  minimumFractionDigits: 2,
  maximumFractionDigits: 2,
});
const small = new Intl.NumberFormat("en-US", { maximumSignificantDigits: 4 });

export function fmtPrice(value) {
  if (typeof value !== "number") return "–";
  return Math.abs(value) >= 1 ? twoDecimals.format(value) : small.format(value);
}

export function fmtConfidence(value) {
  return typeof value === "number" ? value.toFixed(1) : "–";
}

export function fmtPct(value) {
  if (typeof value !== "number") return "–";
  return `${value > 0 ? "+" : ""}${value.toFixed(2)} %`;
}

/** `2026-11-22 10:00:00` (UTC) from any ISO-8601 timestamp. */
export function fmtTime(iso) {
  if (!iso) return "–";
  const moment = new Date(iso);
  if (Number.isNaN(moment.getTime())) return iso;
  return moment.toISOString().slice(0, 19).replace("T", " ");
}

function plural(count, unit) {
  return `${count} ${unit}${count === 1 ? "" : "s"}`;
}

/** `15 minutes`, `2 hours`, `30 seconds`. */
export function fmtDuration(seconds) {
  if (seconds % 3600 === 0) return plural(seconds / 3600, "hour");
  if (seconds % 60 === 0) return plural(seconds / 60, "minute");
  return plural(Math.round(seconds), "second");
}

/** "starter: signals appear 15 minutes after they are made". */
export function delayText(tier) {
  const when =
    tier.delay_seconds > 0
      ? `${fmtDuration(tier.delay_seconds)} after they are made`
      : "as soon as they are made";
  return `${tier.name}: signals appear ${when}`;
}

/** "stocks, confidence ≥ 95, with reasoning". */
export function coverageText(tier) {
  const assets = tier.asset_types.map((a) => (a === "stock" ? "stocks" : a)).join(" and ");
  const parts = [assets];
  if (tier.min_confidence > 0) parts.push(`confidence ≥ ${tier.min_confidence}`);
  else parts.push("every confidence");
  if (tier.fields.length) parts.push(`with ${tier.fields.join(", ")}`);
  return parts.join(", ");
}
