/**
 * Timelines as SVG: one bar per step on a time axis, with spans (a bracket with a label, e.g. the
 * RTO from crash to first write) and marks (a labelled instant). Written by hand, with no
 * dependency: the drill (drctl drill) and the local rehearsal (npm run drill) draw their steps.
 */

export interface TimelineBar {
  readonly label: string;
  /** Seconds from the panel's time origin. */
  readonly start: number;
  readonly duration: number;
  readonly status: "ok" | "failed" | "not run";
}

export interface TimelineSpan {
  readonly label: string;
  readonly from: number;
  readonly to: number;
}

export interface TimelineMark {
  readonly label: string;
  readonly at: number;
}

export interface TimelinePanel {
  readonly title: string;
  readonly bars: readonly TimelineBar[];
  readonly spans?: readonly TimelineSpan[];
  readonly marks?: readonly TimelineMark[];
  /** The axis's range in seconds. @default 0 to the end of the last bar or span */
  readonly range?: readonly [number, number];
}

export interface Timeline {
  readonly title: string;
  /** One line under the title (what was run, when, the verdict). */
  readonly subtitle?: string;
  readonly panels: readonly TimelinePanel[];
}

const WIDTH = 960;
const LABEL_WIDTH = 260;
const CHART_LEFT = LABEL_WIDTH + 20;
const CHART_RIGHT = WIDTH - 110;
const ROW = 26;
const COLORS = { ok: "#2e7d32", failed: "#c62828", "not run": "#bdbdbd" } as const;
const SPAN_COLOR = "#1565c0";
const MARK_COLOR = "#6a1b9a";

/** `&`, `<`, `>` and quotes escaped: labels carry step names, reasons and SQL. */
export function escapeXml(text: string): string {
  return text
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&#39;");
}

/** Seconds for people: `0.472 s`, `12.3 s`, `2m05s`. */
export function formatSeconds(s: number): string {
  if (s < 1) return `${s.toFixed(3)} s`;
  if (s < 60) return `${s.toFixed(1)} s`;
  const m = Math.floor(s / 60);
  return `${m}m${String(Math.round(s - m * 60)).padStart(2, "0")}s`;
}

/** A tick step from 1-2-5 × 10^n giving at most 8 intervals over `span` seconds. */
export function tickStep(span: number): number {
  const raw = span / 8;
  const pow = 10 ** Math.floor(Math.log10(raw > 0 ? raw : 1));
  for (const m of [1, 2, 5, 10]) if (m * pow >= raw) return m * pow;
  return 10 * pow;
}

function round(n: number): number {
  return Math.round(n * 10) / 10;
}

function panelSvg(p: TimelinePanel, top: number): { svg: string; height: number } {
  const ends = [...p.bars.map((b) => b.start + b.duration), ...(p.spans ?? []).map((s) => s.to)];
  const [from, to] = p.range ?? [0, Math.max(0.001, ...ends)];
  const x = (t: number) =>
    round(CHART_LEFT + ((t - from) / (to - from)) * (CHART_RIGHT - CHART_LEFT));
  const out: string[] = [];
  out.push(
    `<text class="panel-title" x="16" y="${top + 18}" font-weight="bold">${escapeXml(p.title)}</text>`,
  );
  const axisY = top + 40;
  const step = tickStep(to - from);
  const first = Math.ceil(from / step) * step;
  const rowsTop = axisY + 14;
  const spans = p.spans ?? [];
  const marks = p.marks ?? [];
  const bottom = rowsTop + p.bars.length * ROW + spans.length * ROW + (marks.length ? 8 : 0);
  for (let t = first; t <= to + step / 1000; t += step) {
    const tx = x(t);
    const label = `${Number(t.toFixed(3))} s`;
    out.push(
      `<line class="tick" x1="${tx}" y1="${axisY}" x2="${tx}" y2="${bottom}" stroke="#e0e0e0"/>`,
      `<text x="${tx}" y="${axisY - 2}" font-size="10" fill="#757575" text-anchor="middle">${escapeXml(label)}</text>`,
    );
  }
  p.bars.forEach((b, i) => {
    const y = rowsTop + i * ROW;
    const bx = x(b.start);
    const w = Math.max(1, round(x(b.start + b.duration) - bx));
    out.push(
      `<text x="16" y="${y + 16}" font-size="12">${escapeXml(b.label)}</text>`,
      b.status === "not run"
        ? `<text class="bar not-run" x="${CHART_LEFT}" y="${y + 16}" font-size="11" fill="#9e9e9e">not run</text>`
        : `<rect class="bar ${b.status}" data-label="${escapeXml(b.label)}" x="${bx}" y="${y + 4}" width="${w}" height="${ROW - 8}" fill="${COLORS[b.status]}" rx="2"/>`,
    );
    if (b.status !== "not run") {
      out.push(
        `<text x="${round(bx + w + 6)}" y="${y + 16}" font-size="11" fill="#424242">${escapeXml(formatSeconds(b.duration))}${b.status === "failed" ? " FAILED" : ""}</text>`,
      );
    }
  });
  spans.forEach((s, i) => {
    const y = rowsTop + (p.bars.length + i) * ROW + 10;
    const [x1, x2] = [x(s.from), x(s.to)];
    out.push(
      `<path class="span" data-label="${escapeXml(s.label)}" d="M${x1},${y - 6} V${y} H${x2} V${y - 6}" fill="none" stroke="${SPAN_COLOR}" stroke-width="2"/>`,
      `<text x="${round((x1 + x2) / 2)}" y="${y + 13}" font-size="12" font-weight="bold" fill="${SPAN_COLOR}" text-anchor="middle">${escapeXml(s.label)}</text>`,
    );
  });
  for (const m of marks) {
    const mx = x(m.at);
    out.push(
      `<line class="mark" data-label="${escapeXml(m.label)}" x1="${mx}" y1="${axisY}" x2="${mx}" y2="${bottom}" stroke="${MARK_COLOR}" stroke-dasharray="4 3"/>`,
      `<text x="${mx + 3}" y="${bottom + 2}" font-size="10" fill="${MARK_COLOR}">${escapeXml(m.label)}</text>`,
    );
  }
  return { svg: out.join("\n"), height: bottom - top + 24 };
}

/** The whole picture, as an SVG document. */
export function timelineSvg(t: Timeline): string {
  const parts: string[] = [];
  let y = t.subtitle ? 56 : 40;
  for (const p of t.panels) {
    const { svg, height } = panelSvg(p, y);
    parts.push(svg);
    y += height + 12;
  }
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${y}" viewBox="0 0 ${WIDTH} ${y}" font-family="Helvetica, Arial, sans-serif">`,
    `<rect width="${WIDTH}" height="${y}" fill="#ffffff"/>`,
    `<text class="title" x="16" y="26" font-size="18" font-weight="bold">${escapeXml(t.title)}</text>`,
    ...(t.subtitle
      ? [
          `<text class="subtitle" x="16" y="44" font-size="12" fill="#616161">${escapeXml(t.subtitle)}</text>`,
        ]
      : []),
    ...parts,
    "</svg>",
    "",
  ].join("\n");
}
