import { describe, expect, it } from "vitest";
import type { DrillReport } from "../../drctl/src/commands/drill";
import { drillTimeline, timelineKey } from "../../drctl/src/commands/drillTimeline";
import { escapeXml, tickStep, timelineSvg } from "../../drctl/src/timeline";
import { newReport } from "../../rehearsal/report";
import { rehearsalTimeline, timelinePath } from "../../rehearsal/timeline";

/** Every element of one class, with its attributes. */
function elements(svg: string, cls: string): Record<string, string>[] {
  return [...svg.matchAll(new RegExp(`<(?:rect|path|line) class="${cls}[^"]*"([^>]*)/>`, "g"))].map(
    (m) => Object.fromEntries([...m[1].matchAll(/([\w-]+)="([^"]*)"/g)].map((a) => [a[1], a[2]])),
  );
}
const texts = (svg: string): string[] =>
  [...svg.matchAll(/<text[^>]*>([^<]*)<\/text>/g)].map((m) => m[1]);

describe("timelineSvg", () => {
  const svg = timelineSvg({
    title: "a <drill> & its steps",
    panels: [
      {
        title: "steps",
        bars: [
          { label: "download", start: 0, duration: 2, status: "ok" },
          { label: "restore", start: 2, duration: 6, status: "failed" },
          { label: "checks", start: 0, duration: 0, status: "not run" },
        ],
        spans: [{ label: "restore time 6.0 s", from: 2, to: 8 }],
        marks: [{ label: "first write", at: 8 }],
      },
    ],
  });

  it("draws each step as a bar whose x and width are its start and duration on the axis", () => {
    const bars = elements(svg, "bar");
    // The chart runs from x=280 to x=850 over 0..8 s: 71.25 px a second.
    expect(bars.map((b) => [b["data-label"], b.x, b.width, b.fill])).toEqual([
      ["download", "280", "142.5", "#2e7d32"],
      ["restore", "422.5", "427.5", "#c62828"],
    ]);
    expect(svg).toContain(">not run</text>");
    expect(texts(svg)).toEqual(expect.arrayContaining(["2.0 s", "6.0 s FAILED"]));
  });

  it("brackets a span and marks an instant where they fall", () => {
    expect(elements(svg, "span")).toEqual([
      expect.objectContaining({
        "data-label": "restore time 6.0 s",
        d: "M422.5,176 V182 H850 V176",
      }),
    ]);
    expect(elements(svg, "mark").map((m) => [m["data-label"], m.x1])).toEqual([
      ["first write", "850"],
    ]);
    // Ticks every second (1-2-5 steps, at most 8 intervals): 0 s … 8 s.
    expect(elements(svg, "tick")).toHaveLength(9);
  });

  it("is one SVG document, with every label escaped", () => {
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg" width="960"')).toBe(true);
    expect(svg.trimEnd().endsWith("</svg>")).toBe(true);
    expect(svg).toContain(">a &lt;drill&gt; &amp; its steps</text>");
    expect(escapeXml(`'"`)).toBe("&#39;&quot;");
    expect([tickStep(8), tickStep(0.5), tickStep(23.4), tickStep(1900)]).toEqual([1, 0.1, 5, 500]);
  });
});

describe("the drill's timeline", () => {
  const at = (s: number) =>
    new Date(Date.parse("2026-12-02T06:00:00.000Z") + s * 1000).toISOString();
  const step = (
    name: DrillReport["steps"][number]["name"],
    start: number,
    d: number,
    passed = true,
  ) => ({
    name,
    startedAt: at(start),
    durationSeconds: d,
    passed,
  });
  const report = {
    drillId: "20261202T060000Z-a1b2c3",
    reportKey: "reports/2026-12-02-20261202T060000Z-a1b2c3.json",
    backupId: "20261202T020000Z-d4e5f6",
    tier: "daily",
    startedAt: at(0),
    durationSeconds: 20,
    steps: [
      step("find-backup", 0, 0.5),
      step("verify", 0.5, 4),
      step("create-scratch", 4.5, 0.5),
      step("restore", 5, 12),
      step("row-counts", 17, 1, false),
      step("drop-scratch", 18, 2),
    ],
    restoreDurationSeconds: 12,
    passed: false,
    failure: { step: "row-counts", reason: "1 of 3 table(s) differ" },
  } as unknown as DrillReport;

  it("has download → verify → restore → checks as bars from their start times, and the restore time", () => {
    const t = drillTimeline(report);
    expect(t.title).toBe("drctl drill 20261202T060000Z-a1b2c3: FAILED");
    expect(t.subtitle).toBe(
      "daily/20261202T020000Z-d4e5f6, started 2026-12-02T06:00:00.000Z, 20.0 s in all · row-counts: 1 of 3 table(s) differ",
    );
    expect(t.panels[0].bars.map((b) => [b.label, b.start, b.duration, b.status])).toEqual([
      ["find the newest backup", 0, 0.5, "ok"],
      ["download + verify (sha256, archive)", 0.5, 4, "ok"],
      ["create scratch database", 4.5, 0.5, "ok"],
      ["restore (download, pg_restore)", 5, 12, "ok"],
      ["check row counts", 17, 1, "failed"],
      ["check smoke SQL", 0, 0, "not run"],
      ["drop scratch database", 18, 2, "ok"],
    ]);
    expect(t.panels[0].spans).toEqual([{ label: "restore time 12.0 s", from: 5, to: 17 }]);
    expect(timelineKey(report.reportKey)).toBe("reports/2026-12-02-20261202T060000Z-a1b2c3.svg");
  });
});

describe("the rehearsal's timeline", () => {
  it("draws the steps, then crash → detect → promote → first write with the RTO and RPO", () => {
    const r = newReport("async", 5_000_000);
    r.components.forEach((c, i) => {
      c.status = "ok";
      c.start_offset_seconds = i * 2;
      c.duration_seconds = 1.5;
    });
    r.rto_seconds = 0.472;
    r.rpo_commits_lost = 2;
    r.acknowledged_commits = 361;
    r.failover_timeline = {
      crash: 8.1,
      detected: 8.25,
      promote_requested: 8.3,
      first_write: 8.572,
    };
    r.passed = true;
    const t = rehearsalTimeline(r);
    expect(t.panels.map((p) => p.title)).toEqual([
      "steps",
      "failover (seconds after the crash): 0.472 s from crash to first write",
    ]);
    expect(t.panels[0].bars.map((b) => b.start)).toEqual([0, 2, 4, 6, 8, 10, 12, 14]);
    const failover = t.panels[1];
    expect(failover.bars.map((b) => [b.label, b.start, Number(b.duration.toFixed(3))])).toEqual([
      ["crash → detected down", 0, 0.15],
      ["detected → promote requested", 0.15, 0.05],
      ["promote → first write", 0.2, 0.272],
    ]);
    expect(failover.spans).toEqual([{ label: "RTO 0.472 s", from: 0, to: 0.472 }]);
    expect(failover.marks?.map((m) => m.label)).toEqual([
      "crash · RPO 2 of 361 acknowledged commits lost",
      "first write",
    ]);
    const svg = timelineSvg(t);
    expect(svg).toContain(">RTO 0.472 s</text>");
    expect(timelinePath("/tmp/run/dr_report.json")).toBe("/tmp/run/dr_report.svg");
  });

  it("shows the steps a failed run never reached as not run", () => {
    const r = newReport("sync", 5_000_000);
    r.components[0].status = "failed";
    r.components[0].start_offset_seconds = 0;
    r.components[0].duration_seconds = 3;
    r.failure = { step: "primary", reason: "initdb failed" };
    const t = rehearsalTimeline(r);
    expect(t.panels).toHaveLength(1);
    expect(t.panels[0].bars.map((b) => b.status)).toEqual(["failed", ...Array(7).fill("not run")]);
    expect(t.subtitle).toMatch(/ · failed at primary: initdb failed$/);
  });
});
